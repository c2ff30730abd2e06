// Package junit writes churn's verdicts as JUnit XML, the test report
// format CI systems display: a test suite per run or comparison, a test
// case per SLO (and per compared figure). A breach or regression is a
// <failure>, an SLO without data a <skipped>. An inconclusive run (the
// simulator fell behind) has its SLO cases <skipped> with the reason, a
// suite property verdict=inconclusive, and an <error> case per simulator
// check that fell behind: the bench, not the API server, failed.
package junit

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
)

// Suites is the document root.
type Suites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr,omitempty"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Suites   []Suite  `xml:"testsuite"`
}

// Suite is one run, repeat summary or comparison.
type Suite struct {
	Name       string     `xml:"name,attr"`
	Tests      int        `xml:"tests,attr"`
	Failures   int        `xml:"failures,attr"`
	Errors     int        `xml:"errors,attr"`
	Skipped    int        `xml:"skipped,attr"`
	Time       string     `xml:"time,attr,omitempty"`
	Timestamp  string     `xml:"timestamp,attr,omitempty"`
	Properties []Property `xml:"properties>property,omitempty"`
	Cases      []Case     `xml:"testcase"`
}

// Property is a name and value of a suite.
type Property struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// Case is one SLO or figure.
type Case struct {
	Name      string   `xml:"name,attr"`
	Classname string   `xml:"classname,attr,omitempty"`
	Time      string   `xml:"time,attr,omitempty"`
	Skipped   *Message `xml:"skipped,omitempty"`
	Error     *Message `xml:"error,omitempty"`
	Failure   *Message `xml:"failure,omitempty"`
	SystemOut string   `xml:"system-out,omitempty"`
}

// Message is a failure, error or skip: a one-line message and detail.
type Message struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// Add appends c to s and counts it.
func (s *Suite) Add(c Case) {
	s.Tests++
	switch {
	case c.Failure != nil:
		s.Failures++
	case c.Error != nil:
		s.Errors++
	case c.Skipped != nil:
		s.Skipped++
	}
	s.Cases = append(s.Cases, c)
}

// Property appends a property.
func (s *Suite) Property(name, value string) {
	s.Properties = append(s.Properties, Property{Name: name, Value: value})
}

// Marshal renders the suites as an indented XML document.
func Marshal(suites ...Suite) ([]byte, error) {
	doc := Suites{Name: "churn", Suites: suites}
	for _, s := range suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
	}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode JUnit XML: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// Write stores the suites in path, creating its directory.
func Write(path string, suites ...Suite) error {
	b, err := Marshal(suites...)
	if err != nil {
		return err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create directory for %s: %w", path, err)
		}
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write JUnit XML: %w", err)
	}
	return nil
}
