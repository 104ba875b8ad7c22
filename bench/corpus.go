package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// Case is one operation of the corpus.
type Case struct {
	Name      string
	Query     string
	Variables json.RawMessage
	Expect    Expect
	// HasExpect is false when the case has no expect.json: its ideal calls
	// and depth then come from the plan.
	HasExpect bool
	// Body is the POST body sent for every request.
	Body []byte
}

// Expect is a case's expect.json.
type Expect struct {
	// Token is "" (anonymous), "support" (a support agent) or a customer
	// id (that customer's token).
	Token string `json:"token"`
	// Calls are the upstream requests one query should cost, by service:
	// the ideal.
	Calls map[string]int `json:"calls"`
	// Depth is the critical path in round trips; the plan's depth is used
	// when absent.
	Depth *int `json:"depth"`
	// Codes are the extensions.code values the answer is expected to
	// carry, in any order (absent: none). "errors" is read as a synonym.
	Codes  []string `json:"codes,omitempty"`
	Errors []string `json:"errors,omitempty"`
	// Why explains the expected calls; the harness does not read it.
	Why string `json:"why,omitempty"`
}

// ErrorCodes returns the expected error codes, sorted.
func (e Expect) ErrorCodes() []string {
	out := slices.Concat(e.Codes, e.Errors)
	slices.Sort(out)
	return out
}

// IdealCalls returns the calls the case should cost, and whether it knows.
func (e Expect) IdealCalls() (int, bool) {
	if e.Calls == nil {
		return 0, false
	}
	n := 0
	for _, c := range e.Calls {
		n += c
	}
	return n, true
}

// loadCorpus reads the cases of dir (default: testdata/corpus under root)
// whose names match re. It returns the directory used, the cases sorted by
// name, and a line per case left out with the reason.
func loadCorpus(root, dir string, re *regexp.Regexp) (string, []*Case, []string, error) {
	if dir == "" {
		dir = filepath.Join(root, "testdata", "corpus")
	}
	names, err := caseDirs(dir)
	if err != nil {
		return dir, nil, nil, fmt.Errorf("read corpus %s: %w", dir, err)
	}
	var cases []*Case
	var skipped []string
	for _, name := range names {
		if !re.MatchString(name) {
			continue
		}
		c, err := loadCase(filepath.Join(dir, name))
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		cases = append(cases, c)
	}
	return dir, cases, skipped, nil
}

// caseDirs lists the subdirectories of dir that hold a query.graphql.
func caseDirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "query.graphql")); err == nil {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// errMutation marks a case left out because it changes data: repeating it
// thousands of times would change what every later case reads.
var errMutation = errors.New("a mutation (it would change the data under load)")

func loadCase(dir string) (*Case, error) {
	q, err := os.ReadFile(filepath.Join(dir, "query.graphql"))
	if err != nil {
		return nil, err
	}
	c := &Case{Name: filepath.Base(dir), Query: string(q)}
	if strings.TrimSpace(c.Query) == "" {
		return nil, errors.New("empty query.graphql")
	}
	doc, perr := parser.ParseQuery(&ast.Source{Input: c.Query})
	if perr == nil {
		for _, op := range doc.Operations {
			if op.Operation != ast.Query {
				return nil, errMutation
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "variables.json")); err == nil {
		if !json.Valid(b) {
			return nil, errors.New("variables.json is not JSON")
		}
		c.Variables = json.RawMessage(bytes.TrimSpace(b))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if b, err := os.ReadFile(filepath.Join(dir, "expect.json")); err == nil {
		if err := json.Unmarshal(b, &c.Expect); err != nil {
			return nil, fmt.Errorf("expect.json: %w", err)
		}
		c.HasExpect = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	body := map[string]any{"query": c.Query}
	if len(c.Variables) > 0 {
		body["variables"] = c.Variables
	}
	c.Body, err = json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return c, nil
}
