package cli

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/churn-dev/churn/history"
	"github.com/churn-dev/churn/report"
)

const historyLong = `Read every results.json under the given directories, files and globs
(CI artifacts kept from run to run are the store) and show the gate over
time: per group of runs, a table of every run (date, setting, verdict, key
figures) and the runs where a figure moved.

Runs are grouped by --group-by (default profile,mesh,target: the same
experiment). Extra arguments and the releases of Kubernetes, kwok and churn
are left free by default so that a new release stays in its series: a
change of them is marked at the run it happens, as the suspect of any
change point there. Group by them too with
--group-by profile,mesh,target,args,kubernetes,kwok,churn.

Change points are found per figure by E-divisive means (Matteson and James
2014; the method of Hunter and Apache Otava): the split of a series with
the largest energy distance between its sides, kept when a permutation
test (999 shuffles) finds it significant, then again within each side.
The figures of a group are tested together: a change point counts only
below the Benjamini-Hochberg cut at a 5% false discovery rate, as in
churn compare. Inconclusive runs (the simulator fell behind) are shown but
not counted. A change point is a regression when the runs after it are
worse than those before by more than --max-regression and the figure's
noise floor. Segments hold at least 3 runs, so a regression is seen from
its third run on.

--check exits 2 when the newest counted run of a group belongs to a
regression that started within the last --check-window runs, naming the
figure, the change and the run it started at.

--last N keeps only the newest N runs of each group (by start time,
inconclusive runs included) before the tables, change points, --check,
--html and the exports; 0, the default, keeps every run.

--html FILE writes a self-contained trends page: a chart per figure across
the runs with change points, release and argument changes marked.

--remote-write URL sends each run's figures to a Prometheus remote-write
endpoint (protocol 1.0: Prometheus with --web.enable-remote-write-receiver,
Mimir, Thanos, VictoriaMetrics), timestamped at each run's start, as
churn_run_figure{figure,kind,unit,run_id,profile,mesh,target,kubernetes,kwok,churn,extra_args},
churn_run_passed and churn_run_inconclusive. deploy/grafana holds a
dashboard for them.

--opensearch URL indexes each run's figures into OpenSearch or
Elasticsearch (index --opensearch-index, default churn-runs) through the
_bulk API, as kube-burner's indexers do: one document per run and figure,
{timestamp, metricName, value, kind, unit, better, limit, runID, profile,
mesh, target, extraArgs, kubernetes, kwok, churn, passed, inconclusive,
verdict}, and one runVerdict document per run (value 1 passed, 0 not).
The _id is the run ID and the metric name, so exporting a history again
replaces its documents rather than adding copies. Basic auth: the user in
--opensearch-user, the password in $CHURN_OPENSEARCH_PASSWORD (never a
flag). Written to the bulk API's documented format; not run against a live
OpenSearch.

Exit status: 0, or 2 with --check when a regression is flagged, 1 on bad
input.`

// historyCheckError is a --check that flagged regressions. It wraps a
// RegressionError so that it exits 2 like the other gates.
type historyCheckError struct {
	findings []history.Finding
	reg      *RegressionError
}

func (e *historyCheckError) Error() string {
	var parts []string
	for _, f := range e.findings {
		parts = append(parts, f.Text())
	}
	return "history check failed: the newest run starts a significant regression: " + strings.Join(parts, "; ")
}

func (e *historyCheckError) Unwrap() error { return e.reg }

// newHistoryCommand builds "churn history DIR...".
func newHistoryCommand(logger *zap.Logger) *cobra.Command {
	var (
		format, htmlPath, groupBy, maxRegression, remoteWrite string
		check                                                 bool
		window, permutations, last                            int
		osTarget                                              history.OpenSearchTarget
	)
	cmd := &cobra.Command{
		Use:   "history DIR|FILE|GLOB...",
		Short: "Trends and change points over the results of many runs; --check gates on the newest",
		Long:  historyLong,
		Example: `  churn history ci-artifacts/
  churn history 'nightly/*/results.json' --format markdown --html trends.html
  churn history nightly/ --check
  churn history nightly/ --last 30 --check
  churn history nightly/ --remote-write http://prometheus:9090/api/v1/write
  CHURN_OPENSEARCH_PASSWORD=... churn history nightly/ --opensearch https://search:9200 --opensearch-user churn`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := history.DefaultOptions()
			var err error
			if o.GroupBy, err = history.ParseGroupBy(groupBy); err != nil {
				return fmt.Errorf("--group-by: %w", err)
			}
			if o.Tolerance, err = report.ParseTolerance(maxRegression); err != nil {
				return fmt.Errorf("--max-regression: %w", err)
			}
			if window < 1 {
				return fmt.Errorf("--check-window %d: want at least 1 run", window)
			}
			o.CheckWindow = window
			if permutations < 19 {
				return fmt.Errorf("--permutations %d: want at least 19 (the smallest p-value is 1/(permutations+1))", permutations)
			}
			o.Detector.Permutations = permutations
			if last < 0 {
				return fmt.Errorf("--last %d: want 0 (every run) or a positive number of runs per group", last)
			}
			o.Last = last
			if osTarget.URL != "" {
				if osTarget.Password, err = openSearchPassword(osTarget.User); err != nil {
					return err
				}
				if err := osTarget.Validate(); err != nil {
					return fmt.Errorf("--opensearch: %w", err)
				}
			} else if cmd.Flags().Changed("opensearch-index") || osTarget.User != "" {
				return errors.New("--opensearch-index and --opensearch-user need --opensearch URL")
			}
			switch format {
			case history.FormatText, history.FormatMarkdown, history.FormatJSON:
			default:
				return fmt.Errorf("--format %q: want text, markdown or json", format)
			}
			runs, problems, err := history.Load(args)
			if err != nil {
				return err
			}
			for _, p := range problems {
				logger.Warn("skipped a results file", zap.String("problem", p))
			}
			h := history.Analyze(runs, o)
			h.Problems = problems
			// The exports send what was analyzed: with --last, the newest
			// runs of each group, as the tables show.
			runs = h.Runs()
			var findings []history.Finding
			if check {
				findings = h.Check(o.CheckWindow)
				if findings == nil {
					findings = []history.Finding{}
				}
			}
			if err := history.Write(cmd.OutOrStdout(), h, format, findings); err != nil {
				return err
			}
			if htmlPath != "" {
				if err := writeHistoryHTML(htmlPath, h, findings); err != nil {
					return err
				}
				logger.Info("trends page written", zap.String("path", htmlPath))
			}
			if remoteWrite != "" {
				samples := history.Samples(runs)
				client := &http.Client{Timeout: 30 * time.Second}
				if err := history.RemoteWrite(cmd.Context(), remoteWrite, client, samples); err != nil {
					return err
				}
				logger.Info("figures sent by remote write", zap.String("url", remoteWrite), zap.Int("samples", len(samples)), zap.Int("runs", len(runs)))
			}
			if osTarget.URL != "" {
				docs, err := history.Documents(runs)
				if err != nil {
					return fmt.Errorf("--opensearch: %w", err)
				}
				client := &http.Client{Timeout: 60 * time.Second}
				res, err := history.OpenSearchBulk(cmd.Context(), osTarget, client, docs)
				if err != nil {
					return fmt.Errorf("--opensearch: %w", err)
				}
				logger.Info("figures indexed", zap.String("url", osTarget.URL), zap.String("index", osTarget.Index),
					zap.Int("runs", len(runs)), zap.Int("documents", res.Documents),
					zap.Int("created", res.Created), zap.Int("replaced", res.Updated))
			}
			if len(findings) > 0 {
				reg := &RegressionError{Tolerance: maxRegression}
				for _, f := range findings {
					reg.Regressed = append(reg.Regressed, f.Text())
				}
				return &historyCheckError{findings: findings, reg: reg}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", history.FormatText, "output format: text, markdown or json")
	f.StringVar(&htmlPath, "html", "", "also write the trends page (self-contained HTML) to this file")
	f.StringVar(&groupBy, "group-by", strings.Join(history.DefaultGroupBy, ","),
		"fields that make runs one group, comma separated, of "+strings.Join(history.Fields, ", "))
	f.StringVar(&maxRegression, "max-regression", "10%", `how much worse after a change point a figure must be to regress, as "10%" or "0.1"`)
	f.BoolVar(&check, "check", false, "exit 2 when the newest run of a group starts a significant regression")
	f.IntVar(&window, "check-window", 5, "with --check: flag a regression that started at most this many runs before the newest (counting the newest)")
	f.IntVar(&permutations, "permutations", history.DefaultOptions().Detector.Permutations, "permutations per change-point test")
	f.StringVar(&remoteWrite, "remote-write", "", "send each run's figures to this Prometheus remote-write URL, e.g. http://localhost:9090/api/v1/write")
	f.IntVar(&last, "last", 0, "keep only the newest N runs of each group (by start time); 0 keeps every run")
	f.StringVar(&osTarget.URL, "opensearch", "", "index each run's figures into this OpenSearch or Elasticsearch, e.g. http://localhost:9200 (_bulk API)")
	f.StringVar(&osTarget.Index, "opensearch-index", history.DefaultOpenSearchIndex, "with --opensearch: the index")
	f.StringVar(&osTarget.User, "opensearch-user", "", "with --opensearch: basic-auth user; the password is read from $"+openSearchPasswordEnv)
	return cmd
}

// openSearchPasswordEnv holds the OpenSearch password: a flag would show it
// in ps, shell history and CI logs.
const openSearchPasswordEnv = "CHURN_OPENSEARCH_PASSWORD"

// openSearchPassword is the password for user from the environment. A user
// without a password, or a password without a user, is refused: either is
// a half-set credential that would fail later as a bare 401.
func openSearchPassword(user string) (string, error) {
	pw, set := os.LookupEnv(openSearchPasswordEnv)
	switch {
	case user != "" && pw == "":
		return "", fmt.Errorf("--opensearch-user %s: set the password in $%s", user, openSearchPasswordEnv)
	case user == "" && set && pw != "":
		return "", fmt.Errorf("$%s is set but --opensearch-user is not: name the user", openSearchPasswordEnv)
	}
	return pw, nil
}

func writeHistoryHTML(path string, h *history.History, findings []history.Finding) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("--html: close %s: %w", path, cerr)
		}
	}()
	if err := history.WriteHTML(f, h, findings, time.Now()); err != nil {
		return errors.Join(fmt.Errorf("--html %s", path), err)
	}
	return nil
}
