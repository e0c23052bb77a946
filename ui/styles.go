package ui

import (
	"os"
	"strings"

	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/handrail-dev/handrail/steps"
)

// Styles is every style the screens use, built once per background and
// color mode by NewStyles. Color only ever repeats what the text already
// says (marks, badges, words): with NO_COLOR the screen reads the same,
// using bold and reverse video for emphasis.
type Styles struct {
	Title   lipgloss.Style
	Muted   lipgloss.Style
	Bold    lipgloss.Style
	Rule    lipgloss.Style
	Phase   lipgloss.Style
	Current lipgloss.Style // the current step's row in the step list

	// Header badges. DRY RUN and APPLY are reverse video in every mode.
	DryRun  lipgloss.Style
	Apply   lipgloss.Style
	Mode    lipgloss.Style // WATCHING / REPLAY
	Good    lipgloss.Style // VERIFIED, PASS, ok
	Bad     lipgloss.Style // MISMATCH, FAIL
	Warn    lipgloss.Style // NOT VERIFIED, lock waits, alerts
	BigPass lipgloss.Style
	BigFail lipgloss.Style

	Banner   lipgloss.Style
	Box      lipgloss.Style // lock-wait and error boxes
	Dialog   lipgloss.Style
	Danger   lipgloss.Style // the hard-stop and rollback titles
	TableHdr lipgloss.Style
	SQL      lipgloss.Style

	Help  help.Styles
	Input textinput.Styles

	// EscapeOn and EscapeOff bracket an escaped control character from
	// the data (termsafe), so a reader can tell it from the same text in
	// the data. Underline: distinct in every mode and inside any other
	// style (nothing else is underlined), and turning it off leaves the
	// surrounding style as it was.
	EscapeOn, EscapeOff string

	marks    map[steps.Status]lipgloss.Style
	markText map[steps.Status]string
	dryMark  string
	rehMark  string
}

// NewStyles builds the styles for a dark or light background; noColor
// drops every color and keeps bold and reverse video. (No underline:
// lipgloss styles it cell by cell, which bloats every frame.)
func NewStyles(isDark, noColor bool) Styles {
	ld := lipgloss.LightDark(isDark)
	c := func(light, dark string) color.Color {
		if noColor {
			return lipgloss.NoColor{}
		}
		return ld(lipgloss.Color(light), lipgloss.Color(dark))
	}
	red, green, yellow := c("#B00020", "#FF5F5F"), c("#1B7F3B", "#5FD787"), c("#8A6100", "#FFD75F")
	blue, grey := c("#1F4E9E", "#87AFFF"), c("#6C6C6C", "#9E9E9E")
	base := lipgloss.NewStyle()
	s := Styles{
		Title:   base.Bold(true),
		Muted:   base.Foreground(grey),
		Bold:    base.Bold(true),
		Rule:    base.Foreground(grey),
		Phase:   base.Bold(true).Foreground(blue),
		Current: base.Bold(true).Reverse(true),

		DryRun:  base.Bold(true).Reverse(true).Padding(0, 1),
		Apply:   base.Bold(true).Reverse(true).Padding(0, 1).Foreground(red),
		Mode:    base.Bold(true).Reverse(true).Padding(0, 1).Foreground(blue),
		Good:    base.Bold(true).Foreground(green),
		Bad:     base.Bold(true).Foreground(red),
		Warn:    base.Bold(true).Foreground(yellow),
		BigPass: base.Bold(true).Reverse(true).Padding(0, 2).Foreground(green),
		BigFail: base.Bold(true).Reverse(true).Padding(0, 2).Foreground(red),

		Banner:   base.Bold(true).Reverse(true).Foreground(yellow),
		Box:      base.Border(lipgloss.NormalBorder()).BorderForeground(yellow).Padding(0, 1),
		Dialog:   base.Border(lipgloss.DoubleBorder()).BorderForeground(red).Padding(0, 1),
		Danger:   base.Bold(true).Reverse(true).Padding(0, 1).Foreground(red),
		TableHdr: base.Bold(true),
		SQL:      base.Foreground(blue),

		Help:  helpStyles(isDark, noColor),
		Input: inputStyles(isDark, noColor),

		EscapeOn: ansi.SGR(ansi.AttrUnderline), EscapeOff: ansi.SGR(ansi.AttrNoUnderline),
	}
	s.marks = map[steps.Status]lipgloss.Style{
		steps.StatusSucceeded: s.Good,
		steps.StatusFailed:    s.Bad.Reverse(true),
		steps.StatusUnknown:   s.Bad.Reverse(true),
		steps.StatusCancelled: s.Warn,
		steps.StatusRunning:   s.Warn,
		steps.StatusActive:    s.Bold,
		steps.StatusSkipped:   s.Muted,
	}
	s.renderMarks()
	return s
}

// Mark is a status mark padded to the widest mark, so titles line up.
// Marks are rendered once, in NewStyles: the step list draws one per step
// on every frame.
func (s Styles) Mark(st steps.Status) string {
	if m, ok := s.markText[st]; ok {
		return m
	}
	return strings.Repeat(" ", markWidth)
}

// StepMark is the step's mark: its status's, but "dry" for a check that
// failed as a dry run expects (the writes it verifies were only shown),
// so it does not read as a real FAIL, and "reh" for a step a --rehearse
// run ran and rolled back, so it does not read as skipped.
func (s Styles) StepMark(st *steps.StepState) string {
	if st.ExpectedInDryRun() {
		return s.dryMark
	}
	if st.Rehearsed() {
		return s.rehMark
	}
	return s.Mark(st.Status)
}

func (s *Styles) renderMarks() {
	s.dryMark = s.Muted.Render("dry") + strings.Repeat(" ", markWidth-len("dry"))
	s.rehMark = s.Good.Render("reh") + strings.Repeat(" ", markWidth-len("reh"))
	s.markText = make(map[steps.Status]string)
	for _, st := range []steps.Status{steps.StatusPending, steps.StatusActive, steps.StatusRunning, steps.StatusSucceeded,
		steps.StatusFailed, steps.StatusSkipped, steps.StatusCancelled, steps.StatusUnknown} {
		txt := st.Mark()
		pad := strings.Repeat(" ", markWidth-len(txt))
		if style, ok := s.marks[st]; ok && txt != "" {
			txt = style.Render(txt)
		}
		s.markText[st] = txt + pad
	}
}

// markWidth is the width of the widest Status.Mark ("FAIL", "skip", "cncl").
const markWidth = 4

func helpStyles(isDark, noColor bool) help.Styles {
	h := help.DefaultStyles(isDark)
	if noColor {
		plain := lipgloss.NewStyle()
		h.ShortKey, h.FullKey = plain.Bold(true), plain.Bold(true)
		h.ShortDesc, h.FullDesc = plain, plain
		h.ShortSeparator, h.FullSeparator, h.Ellipsis = plain, plain, plain
	}
	return h
}

func inputStyles(isDark, noColor bool) textinput.Styles {
	in := textinput.DefaultStyles(isDark)
	// A steady cursor: nothing blinks on a shared screen, and no timer runs.
	in.Cursor.Blink = false
	in.Cursor.Shape = tea.CursorBlock
	if noColor {
		plain := lipgloss.NewStyle()
		in.Focused.Prompt, in.Focused.Placeholder = plain.Bold(true), plain
		in.Blurred.Prompt, in.Blurred.Placeholder, in.Blurred.Text = plain, plain, plain
		in.Cursor.Color = nil
	}
	return in
}

// noColorEnv reports whether NO_COLOR asks for no color (https://no-color.org).
func noColorEnv() bool { return os.Getenv("NO_COLOR") != "" }

// restyle rebuilds the styles after the background or color mode changed.
func (m *Model) restyle() {
	s := NewStyles(m.isDark, m.noColor)
	m.styles = &s
	m.consent = clone(m.consent)
	m.consent.SetStyles(s.Input)
	m.override = clone(m.override)
	m.override.SetStyles(s.Input)
	m.input = clone(m.input)
	m.input.ti.SetStyles(s.Input)
}
