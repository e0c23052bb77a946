package main

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// Targets of issue 6 (2-core machine).
const (
	targetMigrationRatio = 1.05
	targetTTYCPURatio    = 2.0 // migration-tty: handrail's CPU (screen included) against psql's
	targetCheck1MRatio   = 1.0
	targetCheck1MRSS     = 60 << 20 // bytes
	targetCheck1MRSSFrac = 5        // handrail RSS at most psql's / 5
	targetChecksRatio    = 1.2
	// targetFlat: the peak RSS at 10^6 rows is at most this factor of
	// the peak RSS at 10^4 rows (and 10^5 in between).
	targetFlat = 1.2
)

// Targets of issue 15 for the 50 MB file (wlBigFile).
const (
	targetBigFileRSS     = 3.0 // handrail's peak RSS, in file sizes
	targetBigFileJournal = 1.2 // the journal before the first statement, in file sizes
	targetPromptKey      = 100 * time.Millisecond
)

func median[T int64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func walls(ss []sample) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = s.wall
	}
	return out
}

func rsss(ss []sample) []int64 {
	out := make([]int64, len(ss))
	for i, s := range ss {
		out[i] = s.maxRSS
	}
	return out
}

func cpus(ss []sample) []time.Duration {
	out := make([]time.Duration, len(ss))
	for i, s := range ss {
		out[i] = s.cpu
	}
	return out
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// summary is the medians of one workload.
type summary struct {
	name             string
	title            string
	hWall, pWall     time.Duration
	hCPU, pCPU       time.Duration
	hRSS, pRSS       int64
	ratio            float64
	events, fsyncs   int
	journalBytes     int64
	beforeFirst      int64 // the journal before the first statement (tty)
	fileBytes        int64 // the step's file (wlBigFile)
	hSpread, pSpread string
	rssSpread        string
}

func summarize(r *result) summary {
	s := summary{name: r.w.name, title: r.w.title,
		hWall: median(walls(r.handrail)), pWall: median(walls(r.psql)),
		hCPU: median(cpus(r.handrail)), pCPU: median(cpus(r.psql)),
		hRSS: median(rsss(r.handrail)), pRSS: median(rsss(r.psql)),
		hSpread: spread(walls(r.handrail)), pSpread: spread(walls(r.psql)),
		fileBytes: r.w.fileBytes,
	}
	if rs := rsss(r.handrail); len(rs) > 0 {
		s.rssSpread = fmt.Sprintf("%s-%s", mb(slices.Min(rs)), mb(slices.Max(rs)))
	}
	if s.pWall > 0 {
		s.ratio = float64(s.hWall) / float64(s.pWall)
	}
	for _, h := range r.handrail {
		if h.child != nil {
			s.events, s.fsyncs, s.journalBytes, s.beforeFirst = h.child.Events, h.child.Fsyncs, h.child.JournalBytes, h.child.BeforeFirst
		}
	}
	if r.w.events > 0 {
		s.events = r.w.events
	}
	return s
}

// spread is "min-max" of the runs.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return ""
	}
	return fmt.Sprintf("%s-%s", fmtDur(slices.Min(ds)), fmtDur(slices.Max(ds)))
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	default:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
}

// verdict is one target's line.
type verdict struct {
	target, value string
	pass          bool
}

func (v verdict) mark() string {
	if v.pass {
		return "PASS"
	}
	return "MISS"
}

// targets judges the targets on the workloads that ran.
func targets(sums map[string]summary) []verdict {
	var out []verdict
	if s, ok := sums[wlMigration]; ok {
		out = append(out, verdict{fmt.Sprintf("migration: time ratio <= %.2f", targetMigrationRatio), fmt.Sprintf("%.3f", s.ratio), s.ratio <= targetMigrationRatio})
	}
	if s, ok := sums[wlMigrationTTY]; ok {
		cpu := 0.0
		if s.pCPU > 0 {
			cpu = float64(s.hCPU) / float64(s.pCPU)
		}
		out = append(out,
			verdict{fmt.Sprintf("migration-tty: step time ratio <= %.2f", targetMigrationRatio), fmt.Sprintf("%.3f", s.ratio), s.ratio <= targetMigrationRatio},
			verdict{fmt.Sprintf("migration-tty: client CPU <= %.0fx psql's", targetTTYCPURatio),
				fmt.Sprintf("%.2fx (%s vs %s)", cpu, fmtDur(s.hCPU), fmtDur(s.pCPU)), cpu > 0 && cpu <= targetTTYCPURatio})
	}
	if s, ok := sums[wlCheck1M]; ok {
		out = append(out,
			verdict{fmt.Sprintf("1M-row check: time ratio <= %.1f", targetCheck1MRatio), fmt.Sprintf("%.3f", s.ratio), s.ratio <= targetCheck1MRatio},
			verdict{fmt.Sprintf("1M-row check: handrail peak RSS < %s", mb(targetCheck1MRSS)), mb(s.hRSS), s.hRSS < targetCheck1MRSS},
			verdict{fmt.Sprintf("1M-row check: handrail peak RSS <= psql's / %d", targetCheck1MRSSFrac),
				fmt.Sprintf("%s vs %s / %d = %s", mb(s.hRSS), mb(s.pRSS), targetCheck1MRSSFrac, mb(s.pRSS/targetCheck1MRSSFrac)),
				s.hRSS*targetCheck1MRSSFrac <= s.pRSS})
	}
	if s, ok := sums[wlChecks200]; ok {
		out = append(out, verdict{fmt.Sprintf("200 checks: time ratio <= %.1f", targetChecksRatio), fmt.Sprintf("%.3f", s.ratio), s.ratio <= targetChecksRatio})
	}
	if s, ok := sums[wlCheckCmd]; ok {
		out = append(out, verdict{fmt.Sprintf("handrail check (process), 200 checks: time ratio <= %.1f", targetChecksRatio), fmt.Sprintf("%.3f", s.ratio), s.ratio <= targetChecksRatio})
	}
	if s, ok := sums[wlVerify]; ok && s.hWall > 0 {
		rate := float64(s.events) / s.hWall.Seconds()
		out = append(out,
			verdict{fmt.Sprintf("handrail verify: events/s >= %d", targetVerifyRate), fmt.Sprintf("%.0f", rate), rate >= targetVerifyRate},
			verdict{fmt.Sprintf("handrail verify: peak RSS < %s", mb(targetVerifyRSS)), mb(s.hRSS), s.hRSS < targetVerifyRSS})
	}
	if s, ok := sums[wlBigFile]; ok && s.fileBytes > 0 {
		rss := float64(s.hRSS) / float64(s.fileBytes)
		j := float64(s.beforeFirst) / float64(s.fileBytes)
		out = append(out,
			verdict{fmt.Sprintf("%s: handrail peak RSS <= %.0fx the file", wlBigFile, targetBigFileRSS),
				fmt.Sprintf("%.2fx (%s, rounds %s; file %s)", rss, mb(s.hRSS), s.rssSpread, mb(s.fileBytes)), rss <= targetBigFileRSS},
			verdict{fmt.Sprintf("%s: journal before the first statement <= %.1fx the file", wlBigFile, targetBigFileJournal),
				fmt.Sprintf("%.3fx (%s)", j, mb(s.beforeFirst)), s.beforeFirst > 0 && j <= targetBigFileJournal})
	}
	a, okA := sums[wlRows1e4]
	b, okB := sums[wlRows1e5]
	c, okC := sums[wlCheck1M]
	if okA && okB && okC {
		lo := min(a.hRSS, b.hRSS, c.hRSS)
		hi := max(a.hRSS, b.hRSS, c.hRSS)
		f := float64(hi) / float64(lo)
		out = append(out, verdict{fmt.Sprintf("memory flat 10^4 -> 10^6 rows: max/min peak RSS <= %.1f", targetFlat),
			fmt.Sprintf("%s / %s / %s (x%.2f)", mb(a.hRSS), mb(b.hRSS), mb(c.hRSS), f), f <= targetFlat})
	}
	return out
}

func report(w io.Writer, results []*result, fsync time.Duration) {
	sums := map[string]summary{}
	var order []summary
	for _, r := range results {
		s := summarize(r)
		sums[s.name] = s
		order = append(order, s)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\thandrail\tpsql\tratio\thandrail RSS\tpsql RSS\thandrail CPU\tpsql CPU\thandrail min-max\tpsql min-max")
	for _, s := range order {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%s\t%s\t%s\t%s\t%s\t%s\n", s.name, fmtDur(s.hWall), fmtDur(s.pWall), s.ratio,
			mb(s.hRSS), mb(s.pRSS), fmtDur(s.hCPU), fmtDur(s.pCPU), s.hSpread, s.pSpread)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nworkloads (journal of one handrail run: events, fsyncs after its creation, file size):")
	for _, s := range order {
		fmt.Fprintf(w, "  %-12s %s; journal %d events, %d fsyncs, %s\n", s.name, s.title, s.events, s.fsyncs, mb(s.journalBytes))
	}
	var floors []string
	for _, r := range results {
		if len(r.pgx) == 0 {
			continue
		}
		s := sums[r.w.name]
		p := median(walls(r.pgx))
		floors = append(floors, fmt.Sprintf("  %-12s pgx alone %s (x%.3f of psql; handrail is x%.3f of it), CPU %s, RSS %s",
			r.w.name, fmtDur(p), float64(p)/float64(s.pWall), float64(s.hWall)/float64(p), fmtDur(median(cpus(r.pgx))), mb(median(rsss(r.pgx)))))
	}
	if len(floors) > 0 {
		fmt.Fprintln(w, "\nfloor of a Go client: the psql side's statements sent one by one through pgx (handrail's driver), nothing else:")
		for _, f := range floors {
			fmt.Fprintln(w, f)
		}
	}
	fmt.Fprintf(w, "\nfsync of a one-line append in the journal directory: %s (median of 50)\n", fmtDur(fsync))
	if a, ok := sums[wlRows1e4]; ok {
		if b, ok := sums[wlRows1e5]; ok {
			if c, ok := sums[wlCheck1M]; ok {
				fmt.Fprintf(w, "\nmemory as the result grows (peak RSS, median): 10^4 rows %s, 10^5 rows %s, 10^6 rows %s (psql: %s, %s, %s)\n",
					mb(a.hRSS), mb(b.hRSS), mb(c.hRSS), mb(a.pRSS), mb(b.pRSS), mb(c.pRSS))
			}
		}
	}

	vs := targets(sums)
	if len(vs) == 0 {
		return
	}
	fmt.Fprintln(w, "\ntargets:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range vs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.mark(), v.target, v.value)
	}
	tw.Flush()
}
