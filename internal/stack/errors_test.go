package stack

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// warningText joins warnings for tests that look for words in any of them.
func warningText(ws []Warning) string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.String()
	}
	return strings.Join(out, "\n")
}

// A failed step is reported in words: the part it worked on, never the
// engine's internal step name.
func TestStepErrorSpeaksOfParts(t *testing.T) {
	err := &StepError{
		Failed: map[string]error{
			"database:vectors":   errors.New("creating pg database acc-vectors: DigitalOcean answered 500"),
			"retire-old-cluster": errors.New("deleting cluster acc-2: DigitalOcean answered 500"),
		},
		Skipped: []string{"firewall:vectors", "pools:vectors", "project"},
	}
	msg := err.Error()
	for _, want := range []string{
		"could not finish the database vectors: creating pg database acc-vectors",
		"could not finish retiring the old cluster: deleting cluster acc-2",
		"not started because of it: the firewall of database vectors, the connection pools of database vectors, assigning the stack to its project",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message lacks %q:\n%s", want, msg)
		}
	}
	for _, internal := range []string{"database:vectors", "retire-old-cluster", "firewall:vectors", "pools:vectors", `"project"`, "step "} {
		if strings.Contains(msg, internal) {
			t.Errorf("the message shows the internal step name %s:\n%s", internal, msg)
		}
	}
}

// Every step the engine adds (Apply, Delete, Refresh) has words for it:
// a new step without a phrase would show its internal name.
func TestEveryStepHasAPhrase(t *testing.T) {
	src, err := os.ReadFile("engine.go")
	if err != nil {
		t.Fatal(err)
	}
	// g.add("vpc", ...), g.add("firewall:"+key, ...), g.add(db, ...) with db := "database:" + key.
	names := regexp.MustCompile(`g\.add\("([a-z-]+)(:?)"`).FindAllStringSubmatch(string(src), -1)
	names = append(names, regexp.MustCompile(`(?m)^\s*\w+ := "([a-z-]+)(:)" \+ key$`).FindAllStringSubmatch(string(src), -1)...)
	if len(names) < 15 {
		t.Fatalf("found only %d step names in engine.go; the pattern no longer matches how steps are added", len(names))
	}
	for _, m := range names {
		name := m[1]
		if m[2] == ":" {
			name += ":vectors"
		}
		phrase := StepPhrase(name)
		if strings.HasPrefix(phrase, `"`) || phrase == name {
			t.Errorf("step %s has no phrase: errors would show %s", name, phrase)
		}
		if m[2] == ":" && !strings.Contains(phrase, "vectors") {
			t.Errorf("step %s: the phrase %q does not name the database", name, phrase)
		}
	}
}

// A warning carries a title saying what it is about, apart from its detail.
func TestWarningHasATitle(t *testing.T) {
	_, e := startEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The stack's own VPC, deleted out of band: ensureVPC warns and makes a new one.
	r := e.newRun(Spec{Name: "warned", Region: "nyc3"}, &Status{VPCID: "5a4981aa-9653-4bd1-bef5-d6bff52042e4", VPCOwned: true})
	if err := r.ensureVPC(ctx); err != nil {
		t.Fatal(err)
	}
	ws := r.result().Warnings
	if len(ws) != 1 {
		t.Fatalf("want one warning, got %v", ws)
	}
	w := ws[0]
	if w.Title != "The stack's VPC was gone" {
		t.Errorf("title %q; want one saying what the warning is about", w.Title)
	}
	if !strings.Contains(w.Detail, "5a4981aa-9653-4bd1-bef5-d6bff52042e4 no longer exists") {
		t.Errorf("the detail does not name the VPC: %q", w.Detail)
	}
}
