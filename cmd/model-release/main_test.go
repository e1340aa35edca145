package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/model-release/model-release/internal/exitcode"
)

// runCLI runs the binary in-process with an empty environment unless env is given.
func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	err := realMain(context.Background(), args, &out, &errb, lookup)
	return out.String(), errb.String(), exitcode.For(err)
}

func TestRootHelpListsCommands(t *testing.T) {
	out, _, code := runCLI(t, nil, "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, want := range []string{"version", "Exit codes"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help output lacks %q:\n%s", want, out)
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, code := runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "model-release ") {
		t.Fatalf("version: exit %d, %q", code, out)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{{"--no-such-flag"}, {"version", "extra"}, {"no-such-command"}} {
		_, _, code := runCLI(t, nil, args...)
		if code != exitcode.Usage {
			t.Errorf("%v: exit %d, want %d", args, code, exitcode.Usage)
		}
	}
}

// Every subcommand's --help must work: building a command binds its flags,
// and binding an undeclared option is a programming error caught here.
func TestEverySubcommandHelp(t *testing.T) {
	root := newRootCmd(&app{})
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		_, _, code := runCLI(t, nil, c.Name(), "--help")
		if code != 0 {
			t.Errorf("%s --help: exit %d", c.Name(), code)
		}
	}
}
