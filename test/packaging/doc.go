// Package packaging holds the tests of what xrayd ships (packaging/, deploy/, examples/):
// task definitions and IAM policies, the .deb/.rpm, the container images, and the sample
// app against the local backend. See the package's tests and README.md.
package packaging
