package packaging

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// The structs below mirror the parts of ECS RegisterTaskDefinition / CreateService input the
// files use. Decoding with DisallowUnknownFields turns a misspelt key into a test failure.

type taskDefinition struct {
	Family                  string                `json:"family"`
	NetworkMode             string                `json:"networkMode"`
	RequiresCompatibilities []string              `json:"requiresCompatibilities"`
	CPU                     string                `json:"cpu"`
	Memory                  string                `json:"memory"`
	RuntimePlatform         *runtimePlatform      `json:"runtimePlatform"`
	ExecutionRoleArn        string                `json:"executionRoleArn"`
	TaskRoleArn             string                `json:"taskRoleArn"`
	ContainerDefinitions    []containerDefinition `json:"containerDefinitions"`
}

type runtimePlatform struct {
	OperatingSystemFamily string `json:"operatingSystemFamily"`
	CPUArchitecture       string `json:"cpuArchitecture"`
}

type containerDefinition struct {
	Name                   string            `json:"name"`
	Image                  string            `json:"image"`
	Essential              *bool             `json:"essential"`
	CPU                    int               `json:"cpu"`
	Memory                 int               `json:"memory"`
	MemoryReservation      int               `json:"memoryReservation"`
	PortMappings           []portMapping     `json:"portMappings"`
	Links                  []string          `json:"links"`
	Environment            []keyValue        `json:"environment"`
	Command                []string          `json:"command"`
	DependsOn              []dependency      `json:"dependsOn"`
	HealthCheck            *healthCheck      `json:"healthCheck"`
	StopTimeout            int               `json:"stopTimeout"`
	ReadonlyRootFilesystem bool              `json:"readonlyRootFilesystem"`
	User                   string            `json:"user"`
	Ulimits                []ulimit          `json:"ulimits"`
	LogConfiguration       *logConfiguration `json:"logConfiguration"`
}

type portMapping struct {
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort"`
	Protocol      string `json:"protocol"`
}

type keyValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type dependency struct {
	ContainerName string `json:"containerName"`
	Condition     string `json:"condition"`
}

type healthCheck struct {
	Command     []string `json:"command"`
	Interval    int      `json:"interval"`
	Timeout     int      `json:"timeout"`
	Retries     int      `json:"retries"`
	StartPeriod int      `json:"startPeriod"`
}

type ulimit struct {
	Name      string `json:"name"`
	SoftLimit int    `json:"softLimit"`
	HardLimit int    `json:"hardLimit"`
}

type logConfiguration struct {
	LogDriver string            `json:"logDriver"`
	Options   map[string]string `json:"options"`
}

type service struct {
	Cluster                 string `json:"cluster"`
	ServiceName             string `json:"serviceName"`
	TaskDefinition          string `json:"taskDefinition"`
	LaunchType              string `json:"launchType"`
	SchedulingStrategy      string `json:"schedulingStrategy"`
	DeploymentConfiguration struct {
		MaximumPercent        int `json:"maximumPercent"`
		MinimumHealthyPercent int `json:"minimumHealthyPercent"`
	} `json:"deploymentConfiguration"`
	EnableECSManagedTags bool   `json:"enableECSManagedTags"`
	PropagateTags        string `json:"propagateTags"`
}

func decodeStrict(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func ecsDir(t *testing.T) string { return filepath.Join(repoRoot(t), "deploy", "ecs") }

func loadTask(t *testing.T, name string) taskDefinition {
	t.Helper()
	var td taskDefinition
	decodeStrict(t, filepath.Join(ecsDir(t), name), &td)
	return td
}

func container(td taskDefinition, name string) *containerDefinition {
	for i := range td.ContainerDefinitions {
		if td.ContainerDefinitions[i].Name == name {
			return &td.ContainerDefinitions[i]
		}
	}
	return nil
}

func env(c *containerDefinition, key string) (string, bool) {
	for _, kv := range c.Environment {
		if kv.Name == key {
			return kv.Value, true
		}
	}
	return "", false
}

// taskFiles lists every task definition and what distinguishes it.
var taskFiles = []struct {
	file        string
	networkMode string
	fargate     bool
	app         string // the application container beside the daemon, "" if none
}{
	{"bridge-task.json", "bridge", false, "app"},
	{"awsvpc-task.json", "awsvpc", false, "app"},
	{"fargate-task.json", "awsvpc", true, "app"},
	{"daemon-task.json", "host", false, ""},
	{"scorekeep-task.json", "awsvpc", true, "scorekeep"},
}

func TestEveryECSFileIsCovered(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(ecsDir(t), "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"daemon-service.json": true}
	for _, tf := range taskFiles {
		known[tf.file] = true
	}
	for _, f := range files {
		if !known[filepath.Base(f)] {
			t.Errorf("%s is not checked by this test: add it to taskFiles", filepath.Base(f))
		}
	}
}

func TestDaemonContainerInEveryTaskDefinition(t *testing.T) {
	for _, tf := range taskFiles {
		t.Run(tf.file, func(t *testing.T) {
			td := loadTask(t, tf.file)
			if td.Family == "" || td.NetworkMode != tf.networkMode {
				t.Errorf("family %q networkMode %q, want a family and %q", td.Family, td.NetworkMode, tf.networkMode)
			}
			if td.TaskRoleArn == "" || td.ExecutionRoleArn == "" {
				t.Errorf("taskRoleArn %q executionRoleArn %q: both needed (X-Ray calls; image pull + logs)", td.TaskRoleArn, td.ExecutionRoleArn)
			}
			d := container(td, "xray-daemon")
			if d == nil {
				t.Fatal("no container named xray-daemon")
			}
			if d.Essential == nil || !*d.Essential {
				t.Error("xray-daemon must be essential")
			}
			// Sizing: cpu 32 units, 64 MiB reserved, hard limit 128 MiB (see deploy/ecs/README.md).
			if d.CPU != 32 || d.MemoryReservation != 64 || d.Memory != 128 {
				t.Errorf("cpu %d memoryReservation %d memory %d, want 32/64/128", d.CPU, d.MemoryReservation, d.Memory)
			}
			var udp, tcp bool
			for _, pm := range d.PortMappings {
				if pm.ContainerPort != 2000 {
					continue
				}
				if tf.networkMode != "bridge" && pm.HostPort != 0 && pm.HostPort != pm.ContainerPort {
					t.Errorf("hostPort %d must equal containerPort in %s mode", pm.HostPort, tf.networkMode)
				}
				udp = udp || pm.Protocol == "udp"
				tcp = tcp || pm.Protocol == "tcp"
			}
			if !udp || !tcp {
				t.Errorf("portMappings %+v: want 2000/udp and 2000/tcp", d.PortMappings)
			}
			want := []string{"CMD", "/xray", "health"}
			if d.HealthCheck == nil || !slices.Equal(d.HealthCheck.Command[:min(3, len(d.HealthCheck.Command))], want) {
				t.Errorf("healthCheck %+v: want command starting %q", d.HealthCheck, want)
			} else if hc := d.HealthCheck; hc.Interval < 5 || hc.Timeout < 2 || hc.Retries < 1 || hc.Timeout >= hc.Interval {
				t.Errorf("healthCheck timings %+v out of ECS bounds", hc)
			}
			// The daemon drains for up to 25 s after SIGTERM; ECS must wait longer before SIGKILL.
			if d.StopTimeout != 30 {
				t.Errorf("stopTimeout %d, want 30 (> 25 s drain)", d.StopTimeout)
			}
			checkLogs(t, d)
			// The buffer budget must fit under the hard memory limit (the process itself
			// needs about 30 MiB); without -m it would be 1 % of the host's RAM.
			if i := slices.Index(d.Command, "-m"); i < 0 || i+1 >= len(d.Command) {
				t.Errorf("command %q: want -m <MB> so the budget fits the memory limit", d.Command)
			} else if mb, err := strconv.Atoi(d.Command[i+1]); err != nil || d.Memory > 0 && mb+32 > d.Memory {
				t.Errorf("-m %s does not fit under memory %d MiB", d.Command[i+1], d.Memory)
			}
			if td.NetworkMode == "host" {
				for _, pm := range d.PortMappings {
					if pm.HostPort != pm.ContainerPort {
						t.Errorf("host mode: hostPort %d != containerPort %d", pm.HostPort, pm.ContainerPort)
					}
				}
			}
		})
	}
}

func checkLogs(t *testing.T, c *containerDefinition) {
	t.Helper()
	lc := c.LogConfiguration
	if lc == nil || lc.LogDriver != "awslogs" {
		t.Errorf("%s: logConfiguration %+v, want awslogs", c.Name, lc)
		return
	}
	for _, k := range []string{"awslogs-group", "awslogs-region", "awslogs-stream-prefix"} {
		if lc.Options[k] == "" {
			t.Errorf("%s: awslogs option %s missing", c.Name, k)
		}
	}
}

func TestApplicationContainerFindsTheDaemon(t *testing.T) {
	for _, tf := range taskFiles {
		if tf.app == "" {
			continue
		}
		t.Run(tf.file, func(t *testing.T) {
			td := loadTask(t, tf.file)
			app := container(td, tf.app)
			if app == nil {
				t.Fatalf("no container named %s", tf.app)
			}
			addr, hasAddr := env(app, "AWS_XRAY_DAEMON_ADDRESS")
			switch tf.networkMode {
			case "bridge":
				// Separate network namespaces: the app reaches the daemon by its link name.
				if !slices.Contains(app.Links, "xray-daemon") {
					t.Errorf("links %q, want xray-daemon", app.Links)
				}
				if addr != "xray-daemon:2000" {
					t.Errorf("AWS_XRAY_DAEMON_ADDRESS %q, want xray-daemon:2000", addr)
				}
			case "awsvpc":
				// Shared network namespace: the SDK default 127.0.0.1:2000 is right.
				if len(app.Links) != 0 || hasAddr {
					t.Errorf("awsvpc: links %q AWS_XRAY_DAEMON_ADDRESS %q, want neither", app.Links, addr)
				}
			}
			dependsOnHealthyDaemon := false
			for _, d := range app.DependsOn {
				if container(td, d.ContainerName) == nil {
					t.Errorf("dependsOn unknown container %q", d.ContainerName)
				}
				dependsOnHealthyDaemon = dependsOnHealthyDaemon || (d.ContainerName == "xray-daemon" && d.Condition == "HEALTHY")
			}
			if !dependsOnHealthyDaemon {
				t.Error("app should dependsOn xray-daemon HEALTHY: it starts after, and stops before, the daemon")
			}
			if app.StopTimeout == 0 {
				t.Error("app has no stopTimeout")
			}
			checkLogs(t, app)
		})
	}
}

// fargateSizes are the valid task memory sizes (MiB) for the task cpu values used here.
var fargateSizes = map[string][]int{"256": {512, 1024, 2048}, "512": {1024, 2048, 3072, 4096}}

func TestFargateTaskSizes(t *testing.T) {
	for _, tf := range taskFiles {
		td := loadTask(t, tf.file)
		isFargate := slices.Contains(td.RequiresCompatibilities, "FARGATE")
		if isFargate != tf.fargate {
			t.Errorf("%s: requiresCompatibilities %q, FARGATE expected %v", tf.file, td.RequiresCompatibilities, tf.fargate)
		}
		if !isFargate {
			continue
		}
		mem, err := strconv.Atoi(td.Memory)
		if err != nil || !slices.Contains(fargateSizes[td.CPU], mem) {
			t.Errorf("%s: task cpu %q memory %q is not a Fargate size", tf.file, td.CPU, td.Memory)
		}
		cpu, _ := strconv.Atoi(td.CPU)
		var sumCPU, sumMem int
		for _, c := range td.ContainerDefinitions {
			sumCPU += c.CPU
			sumMem += max(c.Memory, c.MemoryReservation)
		}
		if sumCPU > cpu || sumMem > mem {
			t.Errorf("%s: containers need cpu %d memory %d, task has %d/%d", tf.file, sumCPU, sumMem, cpu, mem)
		}
	}
}

func TestDaemonServiceRunsOneDaemonPerInstance(t *testing.T) {
	var svc service
	decodeStrict(t, filepath.Join(ecsDir(t), "daemon-service.json"), &svc)
	if svc.SchedulingStrategy != "DAEMON" || svc.LaunchType != "EC2" {
		t.Errorf("schedulingStrategy %q launchType %q, want DAEMON on EC2", svc.SchedulingStrategy, svc.LaunchType)
	}
	td := loadTask(t, "daemon-task.json")
	if svc.TaskDefinition != td.Family {
		t.Errorf("service taskDefinition %q, want the daemon task family %q", svc.TaskDefinition, td.Family)
	}
	// DAEMON services need maximumPercent 100 (one task per instance, replaced in place).
	if svc.DeploymentConfiguration.MaximumPercent != 100 {
		t.Errorf("maximumPercent %d, want 100", svc.DeploymentConfiguration.MaximumPercent)
	}
}
