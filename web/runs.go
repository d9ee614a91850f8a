package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/portolan/portolan/probe"
	"github.com/portolan/portolan/report"
)

// run is one probe run: its progress while it lasts, then its report.
type run struct {
	ID       string
	Service  string
	Checks   []string
	Started  time.Time
	mu       sync.Mutex
	done     int
	total    int
	expected time.Duration
	ended    time.Time
	finished bool
	ok       bool
	verdict  string
	html     []byte
	counts   map[probe.Status]int
	stopped  bool
	cancel   context.CancelFunc
}

// runState is what the run page's script polls.
type runState struct {
	ID       string         `json:"id"`
	Service  string         `json:"service"`
	Done     int            `json:"done"`
	Total    int            `json:"total"`
	Percent  int            `json:"percent"`
	Finished bool           `json:"finished"`
	OK       bool           `json:"ok"`
	Verdict  string         `json:"verdict,omitempty"`
	Report   string         `json:"report,omitempty"`
	Elapsed  string         `json:"elapsed"`
	Expected string         `json:"expected,omitempty"`
	Counts   map[string]int `json:"counts,omitempty"`
	Started  string         `json:"started"`
	Stopped  bool           `json:"stopped,omitempty"`
}

func (x *run) state() runState {
	x.mu.Lock()
	defer x.mu.Unlock()
	st := runState{ID: x.ID, Service: x.Service, Done: x.done, Total: x.total, Finished: x.finished, OK: x.ok, Verdict: x.verdict,
		Started: x.Started.UTC().Format(time.RFC3339), Stopped: x.stopped}
	if x.total > 0 {
		st.Percent = x.done * 100 / x.total
	}
	end := time.Now()
	if x.finished {
		end = x.ended
		st.Percent = 100
		st.Report = "/runs/" + x.ID + "/report"
		st.Counts = map[string]int{}
		for k, n := range x.counts {
			st.Counts[string(k)] = n
		}
	}
	st.Elapsed = end.Sub(x.Started).Round(100 * time.Millisecond).String()
	if x.expected > 0 {
		st.Expected = x.expected.Round(time.Second).String()
	}
	return st
}

// startProbe plans a run from the form (a bad form or plan answers 400 and
// runs nothing), then runs it in the background and sends the browser to
// its page. At most MaxRuns run at once: one more answers 429.
func (s *Server) startProbe(w http.ResponseWriter, r *http.Request, f *postForm) {
	svc := s.service(w, r)
	if svc == nil {
		return
	}
	sv, err := s.view(svc, f.values)
	if err != nil {
		s.showService(w, r, sv, http.StatusBadRequest, err)
		return
	}
	pf, err := parseProbe(f.values)
	if err != nil {
		s.showService(w, r, sv, http.StatusBadRequest, err)
		return
	}
	cfg := s.opt.Probe
	cfg.Checks, cfg.Sample, cfg.Endpoints = pf.Checks, pf.Sample, pf.Endpoints
	cfg.Progress, cfg.Start = nil, nil
	if !s.reserveRun() {
		s.fail(w, r, http.StatusTooManyRequests, fmt.Sprintf("%d probe runs are under way, the server's --max-runs: wait for one to finish", s.opt.MaxRuns))
		return
	}
	plan, err := probe.NewPlan(r.Context(), sv.Choices, s.opt.ProbeResolver, cfg)
	if err != nil {
		s.releaseRun(nil)
		s.showService(w, r, sv, http.StatusBadRequest, err)
		return
	}
	x := s.addRun(svc.Slug(), cfg.Checks)
	plan.SetStart(func(total int, expected, _ time.Duration) {
		x.mu.Lock()
		x.total, x.expected = total, expected
		x.mu.Unlock()
	})
	plan.SetProgress(func(done, total int) {
		x.mu.Lock()
		x.done, x.total = done, total
		x.mu.Unlock()
	})
	s.log.Printf("probe run %s: %s started", x.ID, svc.Slug())
	ctx, cancel := context.WithTimeout(s.base, MaxRunTime)
	x.mu.Lock()
	x.cancel = cancel
	x.mu.Unlock()
	go func() {
		defer cancel()
		rep := plan.Run(ctx)
		var b bytes.Buffer
		if err := report.ProbeHTML(&b, rep); err != nil {
			s.log.Printf("probe run %s: report: %v", x.ID, err)
		}
		x.mu.Lock()
		x.finished, x.ended, x.ok, x.verdict, x.html, x.counts = true, time.Now(), rep.OK, report.Verdict(rep), b.Bytes(), rep.Counts
		if ctx.Err() != nil {
			x.ok = false
			if x.stopped {
				x.verdict = "STOPPED: the report covers what was probed so far. " + x.verdict
			} else {
				x.verdict = fmt.Sprintf("ENDED after %s: the report covers what was probed so far. %s", MaxRunTime, x.verdict)
			}
		}
		x.mu.Unlock()
		s.log.Printf("probe run %s: %s finished: %s", x.ID, svc.Slug(), x.verdict)
		s.releaseRun(x)
	}()
	http.Redirect(w, r, "/runs/"+x.ID, http.StatusSeeOther)
}

func (s *Server) reserveRun() bool {
	s.runsMu.Lock()
	defer s.runsMu.Unlock()
	if s.running >= s.opt.MaxRuns {
		return false
	}
	s.running++
	return true
}

// releaseRun frees a run's slot and drops the oldest finished runs beyond
// KeepRuns.
func (s *Server) releaseRun(*run) {
	s.runsMu.Lock()
	defer s.runsMu.Unlock()
	s.running--
	finished := 0
	for _, x := range s.runs {
		if x.isFinished() {
			finished++
		}
	}
	for i := 0; finished > s.opt.KeepRuns && i < len(s.runs); {
		if s.runs[i].isFinished() {
			s.runs = append(s.runs[:i], s.runs[i+1:]...)
			finished--
			continue
		}
		i++
	}
}

func (x *run) isFinished() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.finished
}

func (s *Server) addRun(slug string, checks []string) *run {
	s.runsMu.Lock()
	defer s.runsMu.Unlock()
	s.seq++
	x := &run{ID: strconv.Itoa(s.seq), Service: slug, Checks: checks, Started: time.Now()}
	s.runs = append(s.runs, x)
	return x
}

func (s *Server) findRun(id string) *run {
	s.runsMu.Lock()
	defer s.runsMu.Unlock()
	for _, x := range s.runs {
		if x.ID == id {
			return x
		}
	}
	return nil
}

// Runs counts the probe runs kept (under way or finished).
func (s *Server) Runs() int {
	s.runsMu.Lock()
	defer s.runsMu.Unlock()
	return len(s.runs)
}

func (s *Server) runsPage(w http.ResponseWriter, r *http.Request) {
	s.runsMu.Lock()
	var states []runState
	for i := len(s.runs) - 1; i >= 0; i-- {
		states = append(states, s.runs[i].state())
	}
	s.runsMu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "runs", map[string]any{"Title": "Probe runs", "Runs": states, "Keep": s.opt.KeepRuns})
}

func (s *Server) run(w http.ResponseWriter, r *http.Request) *run {
	x := s.findRun(r.PathValue("id"))
	if x == nil {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("no probe run %q: the server keeps the last %d", r.PathValue("id"), s.opt.KeepRuns))
	}
	return x
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	x := s.run(w, r)
	if x == nil {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, "run", map[string]any{"Title": "Probe run " + x.ID, "Run": x.state()})
}

// stopRun ends a run under way; its report covers what was probed.
func (s *Server) stopRun(w http.ResponseWriter, r *http.Request, _ *postForm) {
	x := s.run(w, r)
	if x == nil {
		return
	}
	x.mu.Lock()
	if !x.finished {
		x.stopped = true
		if x.cancel != nil {
			x.cancel()
		}
	}
	x.mu.Unlock()
	s.log.Printf("probe run %s: stop asked", x.ID)
	http.Redirect(w, r, "/runs/"+x.ID, http.StatusSeeOther)
}

func (s *Server) runStatus(w http.ResponseWriter, r *http.Request) {
	x := s.run(w, r)
	if x == nil {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(x.state())
}

// reportPolicy lets the probe's self-contained report use its inline
// style, and nothing else.
const reportPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func (s *Server) runReport(w http.ResponseWriter, r *http.Request) {
	x := s.run(w, r)
	if x == nil {
		return
	}
	x.mu.Lock()
	html, finished := x.html, x.finished
	x.mu.Unlock()
	if !finished {
		s.fail(w, r, http.StatusConflict, "probe run "+x.ID+" is still under way: its report comes when it ends")
		return
	}
	w.Header().Set("Content-Security-Policy", reportPolicy)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.URL.Query().Get("dl") == "1" {
		w.Header().Set("Content-Disposition", `attachment; filename="portolan-probe-`+x.Service+"-"+x.ID+`.html"`)
	}
	w.Write(html)
}
