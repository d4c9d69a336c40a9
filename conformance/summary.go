package conformance

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Summary is what a run came to, from the suite's JUnit report.
type Summary struct {
	Cluster           string   `json:"cluster"`
	KubernetesVersion string   `json:"kubernetesVersion"`
	LabelFilter       string   `json:"labelFilter,omitempty"`
	Focus             []string `json:"focus,omitempty"`
	FocusRegexp       string   `json:"focusRegexp,omitempty"`
	Procs             int      `json:"procs"`
	Passed            int      `json:"passed"`
	Failed            int      `json:"failed"`
	// Skipped are specs the filter took but that skipped themselves
	// (a feature the cluster lacks, say), not the many the filter left
	// out.
	Skipped      int      `json:"skipped"`
	FailedSpecs  []string `json:"failedSpecs,omitempty"`
	SkippedSpecs []string `json:"skippedSpecs,omitempty"`
	// Duration is the whole run: runner start to report.
	Duration time.Duration `json:"duration"`
	Seconds  float64       `json:"seconds"`
}

// Write writes the summary as JSON.
func (s *Summary) Write(file string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(data, '\n'), 0o644)
}

// String is the summary in one line.
func (s *Summary) String() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped in %s (Kubernetes %s, %s)",
		s.Passed, s.Failed, s.Skipped, s.Duration.Round(time.Second), s.KubernetesVersion, Processes(s.Procs))
}

// Processes says how many processes run the specs: "1 process", "8 processes".
func Processes(n int) string {
	if n == 1 {
		return "1 process"
	}
	return fmt.Sprintf("%d processes", n)
}

// junit is the part of ginkgo's JUnit report a summary reads.
type junit struct {
	Suites []struct {
		Cases []struct {
			Name    string `xml:"name,attr"`
			Status  string `xml:"status,attr"`
			Skipped *struct {
				Message string `xml:"message,attr"`
			} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// summarize reads the JUnit report the suite wrote into the report
// folder.
func summarize(opts Options, took time.Duration) (*Summary, error) {
	files, _ := filepath.Glob(filepath.Join(opts.ReportDir, "junit_*.xml"))
	if len(files) == 0 {
		return nil, fmt.Errorf("no JUnit report in %s", opts.ReportDir)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		return nil, err
	}
	s, err := ParseJUnit(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", files[0], err)
	}
	s.Cluster, s.KubernetesVersion = opts.Cluster, opts.Release.Kubernetes
	s.LabelFilter, s.Focus, s.FocusRegexp, s.Procs = opts.LabelFilter, opts.Focus, opts.FocusRegexp, max(opts.Procs, 1)
	s.Duration, s.Seconds = took, took.Seconds()
	return s, nil
}

// ParseJUnit counts the specs ("[It] ...") of a ginkgo JUnit report.
// Specs the run's filter left out (a bare "skipped") are not counted,
// specs that skipped themselves are ("skipped - why"); the suite's setup
// nodes ([SynchronizedBeforeSuite] and the like) count only when they
// failed, since then the specs could not run. It is pure.
func ParseJUnit(data []byte) (*Summary, error) {
	var r junit
	if err := xml.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("reading the JUnit report: %w", err)
	}
	s := &Summary{}
	for _, suite := range r.Suites {
		for _, c := range suite.Cases {
			name, spec := strings.CutPrefix(c.Name, "[It] ")
			switch c.Status {
			case "passed":
				if spec {
					s.Passed++
				}
			case "failed", "panicked", "interrupted", "timedout", "aborted":
				s.Failed++
				s.FailedSpecs = append(s.FailedSpecs, name)
			case "skipped":
				// A bare "skipped" is the filter's: not this run's.
				if c.Skipped != nil && strings.HasPrefix(c.Skipped.Message, "skipped - ") {
					s.Skipped++
					s.SkippedSpecs = append(s.SkippedSpecs, name)
				}
			}
		}
	}
	return s, nil
}
