package junit

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// schemaPath is the JUnit XML schema the output is validated against.
const schemaPath = "testdata/junit-10.xsd"

// The validator below reads the subset of XML Schema the JUnit schema
// uses (global elements, sequences of element refs with occurrence bounds,
// attributes with use=required, mixed content, xs:string elements), so the
// output is checked against the schema file itself even where xmllint is
// not installed.

type xsdElement struct {
	Name        string `xml:"name,attr"`
	Type        string `xml:"type,attr"`
	ComplexType *struct {
		Mixed    bool `xml:"mixed,attr"`
		Sequence struct {
			Elements []struct {
				Ref       string `xml:"ref,attr"`
				MinOccurs string `xml:"minOccurs,attr"`
				MaxOccurs string `xml:"maxOccurs,attr"`
			} `xml:"element"`
		} `xml:"sequence"`
		Attributes []struct {
			Name string `xml:"name,attr"`
			Use  string `xml:"use,attr"`
		} `xml:"attribute"`
	} `xml:"complexType"`
}

type schema map[string]xsdElement

func loadSchema(t *testing.T) schema {
	t.Helper()
	b, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Elements []xsdElement `xml:"element"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parse %s: %v", schemaPath, err)
	}
	s := schema{}
	for _, e := range doc.Elements {
		s[e.Name] = e
	}
	if len(s) < 9 {
		t.Fatalf("%s: %d elements, the JUnit schema has 9", schemaPath, len(s))
	}
	return s
}

type node struct {
	name     string
	attrs    []xml.Attr
	children []*node
	text     string
}

func parseTree(b []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return root, nil
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name.Local, attrs: tok.Attr}
			if len(stack) == 0 {
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tok)
			}
		}
	}
}

func (s schema) validate(n *node, path string) error {
	path += "/" + n.name
	def, ok := s[n.name]
	if !ok {
		return fmt.Errorf("%s: element not in the schema", path)
	}
	if def.ComplexType == nil {
		if def.Type != "xs:string" || len(n.children) > 0 || len(n.attrs) > 0 {
			return fmt.Errorf("%s: want text only", path)
		}
		return nil
	}
	ct := def.ComplexType
	declared := map[string]bool{}
	for _, a := range ct.Attributes {
		declared[a.Name] = true
		if a.Use == "required" && !hasAttr(n, a.Name) {
			return fmt.Errorf("%s: required attribute %s missing", path, a.Name)
		}
	}
	for _, a := range n.attrs {
		if !declared[a.Name.Local] {
			return fmt.Errorf("%s: attribute %s not in the schema", path, a.Name.Local)
		}
	}
	if !ct.Mixed && strings.TrimSpace(n.text) != "" {
		return fmt.Errorf("%s: text %q in element-only content", path, n.text)
	}
	i := 0
	for _, p := range ct.Sequence.Elements {
		lo, hi := 1, 1
		if p.MinOccurs != "" {
			fmt.Sscan(p.MinOccurs, &lo)
		}
		switch p.MaxOccurs {
		case "unbounded":
			hi = 1 << 30
		case "":
		default:
			fmt.Sscan(p.MaxOccurs, &hi)
		}
		count := 0
		for i < len(n.children) && n.children[i].name == p.Ref && count < hi {
			if err := s.validate(n.children[i], path); err != nil {
				return err
			}
			i++
			count++
		}
		if count < lo {
			return fmt.Errorf("%s: want at least %d %s", path, lo, p.Ref)
		}
	}
	if i < len(n.children) {
		return fmt.Errorf("%s: unexpected %s (out of order or too many)", path, n.children[i].name)
	}
	return nil
}

func hasAttr(n *node, name string) bool {
	for _, a := range n.attrs {
		if a.Name.Local == name {
			return true
		}
	}
	return false
}

// checkSchema validates doc against the schema, in Go and, when
// installed, with xmllint (CI installs it).
func checkSchema(t *testing.T, doc []byte) {
	t.Helper()
	root, err := parseTree(doc)
	if err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, doc)
	}
	if root.name != "testsuites" {
		t.Fatalf("root %s, want testsuites", root.name)
	}
	if err := loadSchema(t).validate(root, ""); err != nil {
		t.Fatalf("invalid JUnit XML: %v\n%s", err, doc)
	}
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CHURN_REQUIRE_XMLLINT") != "" {
			t.Fatal("xmllint not found and CHURN_REQUIRE_XMLLINT is set")
		}
		t.Log("xmllint not installed: validated in Go only")
		return
	}
	file := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(file, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(xmllint, "--noout", "--schema", schemaPath, file).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint: %v\n%s\n%s", err, out, doc)
	}
}

// TestValidatorRejects keeps the Go validator honest: it must fail on
// documents that break the schema.
func TestValidatorRejects(t *testing.T) {
	s := loadSchema(t)
	for name, doc := range map[string]string{
		"no suite name":       `<testsuites><testsuite tests="1"><testcase name="a"/></testsuite></testsuites>`,
		"failure before skip": `<testsuites><testsuite name="s" tests="1"><testcase name="a"><failure/><skipped/></testcase></testsuite></testsuites>`,
		"unknown attribute":   `<testsuites><testsuite name="s" tests="0" verdict="x"/></testsuites>`,
		"properties in case":  `<testsuites><testsuite name="s" tests="1"><testcase name="a"><properties/></testcase></testsuite></testsuites>`,
		"two skipped":         `<testsuites><testsuite name="s" tests="1"><testcase name="a"><skipped/><skipped/></testcase></testsuite></testsuites>`,
	} {
		root, err := parseTree([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.validate(root, ""); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
