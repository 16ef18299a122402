package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// sample is one measurement of one repetition.
type sample struct {
	Scenario string  `json:"scenario"`
	Variant  string  `json:"variant,omitempty"`
	Side     string  `json:"side"`
	Rep      int     `json:"rep"` // -1 for the warm-up repetition
	Warmup   bool    `json:"warmup"`
	Metric   string  `json:"metric"`
	Unit     string  `json:"unit"`
	Value    float64 `json:"value"`
}

// row is one line of the summary table.
type row struct {
	Scenario string   `json:"scenario"`
	Metric   string   `json:"metric"`
	Unit     string   `json:"unit"`
	Mirror   float64  `json:"mirror"`
	Raw      *float64 `json:"raw,omitempty"`
	Ratio    *float64 `json:"ratio,omitempty"` // mirror/raw
	// RatioIQR is the 25th and 75th percentile of the per-repetition ratios mirror/raw
	// (each side's statistic within one repetition): how much the ratio moves.
	RatioIQR []float64 `json:"ratio_iqr,omitempty"`
	Target   string    `json:"target,omitempty"`
	Result   string    `json:"result,omitempty"` // PASS, MISS or empty (no target)
	N        int       `json:"n"`                // samples per side
	Note     string    `json:"note,omitempty"`
}

// recorder holds every sample and row of the run.
type recorder struct {
	mu      sync.Mutex
	samples []sample
	rows    []row
	errors  []string
}

func (r *recorder) add(s sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, s)
}

func (r *recorder) addRow(rw row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, rw)
}

func (r *recorder) addError(scn string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf("%s: %v", scn, err))
}

// values returns the measured (not warm-up) values of a metric.
func (r *recorder) values(scn, variant, side, metric string) []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var vs []float64
	for _, s := range r.samples {
		if s.Scenario == scn && s.Variant == variant && s.Side == side && s.Metric == metric && !s.Warmup {
			vs = append(vs, s.Value)
		}
	}
	return vs
}

// repStats applies stat to each measured repetition's values of a metric, by repetition.
func (r *recorder) repStats(scn, variant, side, metric string, stat func([]float64) float64) map[int]float64 {
	r.mu.Lock()
	by := map[int][]float64{}
	for _, s := range r.samples {
		if s.Scenario == scn && s.Variant == variant && s.Side == side && s.Metric == metric && !s.Warmup {
			by[s.Rep] = append(by[s.Rep], s.Value)
		}
	}
	r.mu.Unlock()
	out := make(map[int]float64, len(by))
	for rep, vs := range by {
		out[rep] = stat(vs)
	}
	return out
}

// ratioIQR returns the interquartile range of the per-repetition ratios mirror/raw, or nil
// with fewer than 3 repetitions.
func (r *recorder) ratioIQR(scn, variant, mirrorSide, rawSide, metric string, stat func([]float64) float64) []float64 {
	ms := r.repStats(scn, variant, mirrorSide, metric, stat)
	rs := r.repStats(scn, variant, rawSide, metric, stat)
	var ratios []float64
	for rep, m := range ms {
		if v, ok := rs[rep]; ok && v != 0 {
			ratios = append(ratios, m/v)
		}
	}
	if len(ratios) < 3 {
		return nil
	}
	return []float64{percentile(ratios, 25), percentile(ratios, 75)}
}

// median of vs (NaN if empty).
func median(vs []float64) float64 { return percentile(vs, 50) }

// percentile p (0-100) of vs, by linear interpolation between closest ranks.
func percentile(vs []float64, p float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	pos := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	if lo == hi {
		return s[lo]
	}
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// target is a pass condition on a row.
type target struct {
	text string
	ok   func(rw row) bool
}

// ratioAtMost passes when mirror/raw ≤ x.
func ratioAtMost(x float64) target {
	return target{text: fmt.Sprintf("≤ %.2f×", x), ok: func(rw row) bool { return rw.Ratio != nil && *rw.Ratio <= x }}
}

// valueAtMost passes when the mirror's value ≤ x (in the row's unit).
func valueAtMost(x float64, unit string) target {
	return target{text: "≤ " + formatValue(x, unit), ok: func(rw row) bool { return rw.Mirror <= x }}
}

// allOf passes when every one of ts passes.
func allOf(ts ...target) target {
	var texts []string
	for _, t := range ts {
		texts = append(texts, t.text)
	}
	return target{text: strings.Join(texts, ", "), ok: func(rw row) bool {
		for _, t := range ts {
			if !t.ok(rw) {
				return false
			}
		}
		return true
	}}
}

// valueEquals passes when the mirror's value = x.
func valueEquals(x float64, unit string) target {
	return target{text: "= " + formatValue(x, unit), ok: func(rw row) bool { return rw.Mirror == x }}
}

// summarize adds a row of medians for a metric measured on both sides (raw may be "" for
// a mirror-only row). tg may be nil (no target).
func (r *recorder) summarize(scn, variant, mirrorSide, rawSide, metric, label, unit string, tg *target, note string) row {
	mv := r.values(scn, variant, mirrorSide, metric)
	rw := row{Scenario: scn, Metric: label, Unit: unit, Mirror: median(mv), N: len(mv), Note: note}
	if rawSide != "" {
		rv := r.values(scn, variant, rawSide, metric)
		m := median(rv)
		rw.Raw = &m
		if m != 0 && !math.IsNaN(m) && !math.IsNaN(rw.Mirror) {
			ratio := rw.Mirror / m
			rw.Ratio = &ratio
			rw.RatioIQR = r.ratioIQR(scn, variant, mirrorSide, rawSide, metric, median)
		}
	}
	r.judge(&rw, tg)
	r.addRow(rw)
	return rw
}

// judge sets the row's target and result.
func (r *recorder) judge(rw *row, tg *target) {
	if tg == nil {
		return
	}
	rw.Target = tg.text
	switch {
	case rw.N == 0 || math.IsNaN(rw.Mirror):
		rw.Result = "MISS"
		rw.Note = strings.TrimSpace(rw.Note + " (no samples)")
	case tg.ok(*rw):
		rw.Result = "PASS"
	default:
		rw.Result = "MISS"
	}
}

// formatValue prints v in unit: "s" durations, "B" bytes, "req/s", "count", "bool".
func formatValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "—"
	}
	switch unit {
	case "s":
		return formatDuration(time.Duration(v * float64(time.Second)))
	case "B":
		if v >= 10*1024*1024 {
			return fmt.Sprintf("%.1f MiB", v/1024/1024)
		}
		return fmt.Sprintf("%.0f B", v)
	case "req/s":
		return fmt.Sprintf("%.0f/s", v)
	case "1/s":
		return fmt.Sprintf("%.0f/s", v)
	case "bool":
		if v >= 1 {
			return "yes"
		}
		return "no"
	case "count":
		return fmt.Sprintf("%.0f", v)
	case "x":
		return fmt.Sprintf("%.3f×", v)
	}
	return fmt.Sprintf("%.4g %s", v, unit)
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.3fs", d.Seconds())
	}
}

// printTable writes the summary table.
func (r *recorder) printTable(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tmetric\tmirror\traw\tmirror/raw\tper-rep IQR\ttarget\tresult\tn")
	fmt.Fprintln(tw, "--------\t------\t------\t---\t----------\t-----------\t------\t------\t-")
	for _, rw := range r.rows {
		raw, ratio, iqr := "—", "—", "—"
		if len(rw.RatioIQR) == 2 {
			iqr = fmt.Sprintf("%.2f–%.2f", rw.RatioIQR[0], rw.RatioIQR[1])
		}
		if rw.Raw != nil {
			raw = formatValue(*rw.Raw, rw.Unit)
		}
		if rw.Ratio != nil {
			ratio = fmt.Sprintf("%.3f", *rw.Ratio)
		}
		tg, res := rw.Target, rw.Result
		if tg == "" {
			tg, res = "—", "info"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", rw.Scenario, rw.Metric, formatValue(rw.Mirror, rw.Unit), raw, ratio, iqr, tg, res, rw.N)
	}
	tw.Flush()
	var notes []string
	for _, rw := range r.rows {
		if rw.Note != "" {
			notes = append(notes, fmt.Sprintf("  %s / %s: %s", rw.Scenario, rw.Metric, rw.Note))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "notes:")
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
	if len(r.errors) > 0 {
		fmt.Fprintln(w, "errors:")
		for _, e := range r.errors {
			fmt.Fprintln(w, "  "+e)
		}
	}
}

// report is the JSON file.
type report struct {
	Started  time.Time         `json:"started"`
	Duration float64           `json:"duration_s"`
	Command  []string          `json:"command"`
	Env      map[string]string `json:"env"`
	Rows     []row             `json:"rows"`
	Samples  []sample          `json:"samples"`
	Errors   []string          `json:"errors,omitempty"`
}

func (r *recorder) writeJSON(path string, rep report) error {
	r.mu.Lock()
	rep.Rows = slices.Clone(r.rows)
	rep.Samples = slices.Clone(r.samples)
	rep.Errors = slices.Clone(r.errors)
	r.mu.Unlock()
	// NaN is not JSON: drop such samples' values to null-free zeros with a note.
	for i := range rep.Rows {
		if math.IsNaN(rep.Rows[i].Mirror) {
			rep.Rows[i].Mirror = 0
			rep.Rows[i].Note = strings.TrimSpace(rep.Rows[i].Note + " (no mirror samples)")
		}
		if rep.Rows[i].Raw != nil && math.IsNaN(*rep.Rows[i].Raw) {
			rep.Rows[i].Raw = nil
		}
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
