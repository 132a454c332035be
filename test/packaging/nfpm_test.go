package packaging

import (
	"archive/zip"
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

var pkgBuild struct {
	once     sync.Once
	deb, rpm string
	err      string
}

// packages builds the amd64 .deb and .rpm once with packaging/nfpm.yaml, staged the way
// packaging/package.sh stages them.
func packages(t *testing.T) (deb, rpm string) {
	t.Helper()
	nfpm := needTool(t, "nfpm")
	bin := xrayBinary(t, "amd64")
	pkgBuild.once.Do(func() {
		root := repoRoot(t)
		stage := filepath.Join(shared.dir, "stage-amd64")
		out := filepath.Join(shared.dir, "pkg")
		for _, d := range []string{stage, out} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				pkgBuild.err = err.Error()
				return
			}
		}
		copyFile(t, bin.path, filepath.Join(stage, "xray"), 0o755)
		copyFile(t, filepath.Join(root, "packaging", "cfg.yaml"), filepath.Join(stage, "cfg.yaml"), 0o644)
		copyFile(t, filepath.Join(root, "packaging", "systemd", "xray.service"), filepath.Join(stage, "systemd", "xray.service"), 0o644)
		for _, s := range []string{"postinstall.sh", "preremove.sh", "postremove.sh"} {
			copyFile(t, filepath.Join(root, "packaging", "scripts", s), filepath.Join(stage, "scripts", s), 0o755)
		}
		env := []string{"VERSION=" + testVersion, "ARCH=amd64"}
		pkgBuild.deb = filepath.Join(out, "xrayd_"+testVersion+"_amd64.deb")
		pkgBuild.rpm = filepath.Join(out, "xrayd-"+testVersion+".amd64.rpm")
		cfg := filepath.Join(root, "packaging", "nfpm.yaml")
		for fmt, target := range map[string]string{"deb": pkgBuild.deb, "rpm": pkgBuild.rpm} {
			if o, err := runErr(stage, env, nfpm, "package", "-f", cfg, "-p", fmt, "-t", target); err != nil {
				pkgBuild.err = "nfpm " + fmt + ": " + err.Error() + "\n" + o
				return
			}
		}
	})
	if pkgBuild.err != "" {
		t.Fatal(pkgBuild.err)
	}
	return pkgBuild.deb, pkgBuild.rpm
}

func logSize(t *testing.T, path string) {
	t.Helper()
	if fi, err := os.Stat(path); err == nil {
		t.Logf("%s: %d bytes (%.1f MiB)", filepath.Base(path), fi.Size(), float64(fi.Size())/(1<<20))
	}
}

var wantFiles = []string{"/usr/bin/xray", "/etc/amazon/xray/cfg.yaml", "/usr/lib/systemd/system/xray.service"}

func TestDebContents(t *testing.T) {
	deb, _ := packages(t)
	logSize(t, deb)
	dpkgDeb := needTool(t, "dpkg-deb")
	listing := run(t, "", nil, dpkgDeb, "-c", deb)
	for _, f := range wantFiles {
		if !strings.Contains(listing, "."+f+"\n") {
			t.Errorf("deb lacks %s:\n%s", f, listing)
		}
	}
	if !regexp.MustCompile(`-rwxr-xr-x root/root .* \./usr/bin/xray`).MatchString(listing) {
		t.Errorf("/usr/bin/xray should be root-owned 0755:\n%s", listing)
	}
	fields := run(t, "", nil, dpkgDeb, "-f", deb, "Package", "Version", "Architecture", "Provides", "Conflicts", "Replaces")
	for _, want := range []string{"Package: xrayd", "Version: 9.8.7~pkgtest", "Architecture: amd64", "Provides: xray", "Conflicts: xray", "Replaces: xray"} {
		if !strings.Contains(fields, want) {
			t.Errorf("control fields lack %q:\n%s", want, fields)
		}
	}
	ctl := t.TempDir()
	run(t, "", nil, dpkgDeb, "-e", deb, ctl)
	conffiles, _ := os.ReadFile(filepath.Join(ctl, "conffiles"))
	if strings.TrimSpace(string(conffiles)) != "/etc/amazon/xray/cfg.yaml" {
		t.Errorf("conffiles %q, want only /etc/amazon/xray/cfg.yaml", conffiles)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		if _, err := os.Stat(filepath.Join(ctl, s)); err != nil {
			t.Errorf("maintainer script %s missing", s)
		}
	}
}

func TestRpmContents(t *testing.T) {
	_, rpmFile := packages(t)
	logSize(t, rpmFile)
	rpm := needTool(t, "rpm")
	listing := run(t, "", nil, rpm, "-qpl", rpmFile)
	for _, f := range wantFiles {
		if !strings.Contains(listing, f+"\n") {
			t.Errorf("rpm lacks %s:\n%s", f, listing)
		}
	}
	if cf := run(t, "", nil, rpm, "-qp", "--configfiles", rpmFile); strings.TrimSpace(cf) != "/etc/amazon/xray/cfg.yaml" {
		t.Errorf("config files %q, want /etc/amazon/xray/cfg.yaml", cf)
	}
	scripts := run(t, "", nil, rpm, "-qp", "--scripts", rpmFile)
	for _, want := range []string{"postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet", "useradd --system"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm scripts lack %q", want)
		}
	}
	info := run(t, "", nil, rpm, "-qpi", rpmFile)
	if !strings.Contains(info, "Architecture: x86_64") || !strings.Contains(info, "Name        : xrayd") {
		t.Errorf("rpm info:\n%s", info)
	}
}

func TestPackageScriptsAreValidPOSIXShell(t *testing.T) {
	sh := needTool(t, "sh")
	for _, s := range []string{"postinstall.sh", "preremove.sh", "postremove.sh"} {
		run(t, "", nil, sh, "-n", filepath.Join(repoRoot(t), "packaging", "scripts", s))
	}
}

// TestSystemdUnit checks the settings the brief and the daemon's drain contract depend on.
func TestSystemdUnit(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot(t), "packaging", "systemd", "xray.service"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			got[k] = v
		}
	}
	want := map[string]string{
		"ExecStart":        "/usr/bin/xray -f /var/log/xray/xray.log",
		"User":             "xray",
		"Group":            "xray",
		"Restart":          "on-failure",
		"KillSignal":       "SIGTERM",
		"TimeoutStopSec":   "30s", // > the daemon's 25 s drain deadline
		"WorkingDirectory": "/usr/bin/",
		"NoNewPrivileges":  "yes",
		"ProtectSystem":    "strict",
		"LogsDirectory":    "xray",
		"WantedBy":         "multi-user.target",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
}

// TestDebInstallsAndPurges installs the .deb on this machine: root only, and only with
// CI=true or XRAYD_PACKAGE_TESTS=1 because it changes the system (it purges afterwards).
func TestDebInstallsAndPurges(t *testing.T) {
	if !inCI() && os.Getenv("XRAYD_PACKAGE_TESTS") != "1" {
		t.Skip("installs a package on this machine: set XRAYD_PACKAGE_TESTS=1 (or CI=true) to run")
	}
	if os.Geteuid() != 0 {
		missing(t, "dpkg -i needs root")
	}
	dpkg := needTool(t, "dpkg")
	deb, _ := packages(t)
	if _, err := os.Stat("/usr/bin/xray"); err == nil {
		t.Fatal("/usr/bin/xray already exists on this machine; refusing to overwrite it")
	}
	run(t, "", nil, dpkg, "-i", deb)
	t.Cleanup(func() { runErr("", nil, dpkg, "-P", "xrayd") })

	out := run(t, "", nil, "/usr/bin/xray", "-v")
	if strings.TrimSpace(out) != "AWS X-Ray daemon version: "+testVersion {
		t.Errorf("xray -v: %q", out)
	}
	for _, f := range wantFiles {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("after install: %v", err)
		}
	}
	if out, err := exec.Command("getent", "passwd", "xray").Output(); err != nil || !strings.Contains(string(out), "nologin") && !strings.Contains(string(out), "/bin/false") {
		t.Errorf("xray user: %q %v, want a system user with no login shell", out, err)
	}
	if fi, err := os.Stat("/var/log/xray"); err != nil || !fi.IsDir() {
		t.Errorf("/var/log/xray: %v", err)
	}
	if st := run(t, "", nil, dpkg, "-s", "xrayd"); !strings.Contains(st, "Status: install ok installed") {
		t.Errorf("dpkg -s:\n%s", st)
	}

	// Upgrade: a newer package keeps the administrator's edit of the conffile.
	const cfgPath = "/etc/amazon/xray/cfg.yaml"
	edited := []byte("# edited by the administrator\nVersion: 2\nRegion: eu-west-1\n")
	if err := os.WriteFile(cfgPath, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	newer := debWithVersion(t, "9.9.0-pkgtest")
	run(t, "", []string{"DEBIAN_FRONTEND=noninteractive"}, dpkg, "--force-confold", "-i", newer)
	if st := run(t, "", nil, dpkg, "-s", "xrayd"); !strings.Contains(st, "Version: 9.9.0") {
		t.Errorf("after upgrade, dpkg -s:\n%s", st)
	}
	if got, _ := os.ReadFile(cfgPath); string(got) != string(edited) {
		t.Errorf("upgrade replaced the edited %s:\n%s", cfgPath, got)
	}
	if _, err := os.Stat("/usr/bin/xray"); err != nil {
		t.Errorf("after upgrade: %v", err)
	}

	run(t, "", nil, dpkg, "-P", "xrayd")
	for _, f := range append(wantFiles, "/var/log/xray") {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s still present after dpkg -P", f)
		}
	}
}

// TestPackageScript runs packaging/package.sh as `make packages` does, for linux/amd64 only
// (the full cross-platform run takes minutes), and checks the artifacts it names.
func TestPackageScript(t *testing.T) {
	if !hasCmdXray(repoRoot(t)) {
		missing(t, "cmd/xray does not exist yet: package.sh builds it")
	}
	nfpm := needTool(t, "nfpm")
	needTool(t, "zip")
	dist := t.TempDir()
	run(t, repoRoot(t), []string{"VERSION=" + testVersion, "DIST=" + dist, "PLATFORMS=linux/amd64",
		"LINUX_ARCHES=amd64", "NFPM=" + nfpm}, "packaging/package.sh", "packages")
	for _, f := range []string{
		"linux-amd64/xray", "cfg.yaml", "ca-certificates.crt",
		"xrayd_" + testVersion + "_amd64.deb", "xrayd-" + testVersion + ".amd64.rpm",
		"xrayd-linux-amd64-" + testVersion + ".zip",
	} {
		if _, err := os.Stat(filepath.Join(dist, f)); err != nil {
			t.Errorf("package.sh did not produce %s", f)
		}
	}
	zr, err := zip.OpenReader(filepath.Join(dist, "xrayd-linux-amd64-"+testVersion+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Name == "xray" && f.Mode()&0o111 == 0 {
			t.Errorf("xray in the zip is not executable: %v", f.Mode())
		}
	}
	if !slices.Contains(names, "xray") || !slices.Contains(names, "cfg.yaml") {
		t.Errorf("zip holds %q, want xray and cfg.yaml", names)
	}
	out := run(t, "", nil, filepath.Join(dist, "linux-amd64", "xray"), "-v")
	if strings.TrimSpace(out) != "AWS X-Ray daemon version: "+testVersion {
		t.Errorf("xray -v: %q", out)
	}
}

// debWithVersion builds the amd64 .deb again with another package version (for upgrades).
func debWithVersion(t *testing.T, version string) string {
	t.Helper()
	nfpm := needTool(t, "nfpm")
	packages(t) // stages the files
	stage := filepath.Join(shared.dir, "stage-amd64")
	out := filepath.Join(shared.dir, "pkg", "xrayd_"+version+"_amd64.deb")
	env := []string{"VERSION=" + version, "ARCH=amd64"}
	if o, err := runErr(stage, env, nfpm, "package", "-f", filepath.Join(repoRoot(t), "packaging", "nfpm.yaml"), "-p", "deb", "-t", out); err != nil {
		t.Fatalf("nfpm: %v\n%s", err, o)
	}
	return out
}
