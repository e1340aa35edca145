// Package depcheck holds a test that enforces which of our packages may
// import gorgonia, go-github, go-containerregistry and go-githubactions.
package depcheck
