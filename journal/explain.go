package journal

import (
	"errors"
	"fmt"
	"io/fs"
)

// Trouble is why a journal cannot be followed or read, told to a person:
// a title for the top of a screen, the detail, and what to do.
type Trouble struct {
	Title  string
	Detail string
	Advice string
}

// Explain turns an error from reading or following the journal at path
// (FollowLog's final Status, Read, OpenFollower) into a Trouble.
func Explain(path string, err error) Trouble {
	var (
		ve *VerifyError
		fe *FormatError
	)
	switch {
	case err == nil:
		return Trouble{}
	case errors.Is(err, fs.ErrNotExist):
		return Trouble{
			Title:  "JOURNAL NOT FOUND",
			Detail: path + " does not exist.",
			Advice: "Check the path. handrail run prints its journal's path when it starts and ends, and the end summary shows it; " +
				"journals are in the run's --log-dir, by default $XDG_STATE_HOME/handrail/sessions or ~/.local/state/handrail/sessions " +
				"(ls -t DIR/*.jsonl | head -1 is the latest).",
		}
	case errors.Is(err, fs.ErrPermission):
		return Trouble{
			Title:  "CANNOT READ JOURNAL: permission denied",
			Detail: err.Error(),
			Advice: "A journal is readable by the Unix user who runs the session only (mode 0600, in a 0700 directory). " +
				"Watch as that user (a second SSH login, or a tmux pane of theirs), or have them share it with a group you are in: " +
				"chgrp GROUP DIR LOG; chmod g+rx DIR; chmod g+r LOG.",
		}
	case errors.As(err, &fe):
		advice := "Use a handrail that reads journal format " + fmt.Sprint(fe.Format) + "."
		if fe.WrittenBy != "" {
			advice = "Use handrail " + fe.WrittenBy + " or newer: this one does not guess at a format it does not know."
		}
		return Trouble{Title: "JOURNAL FROM A NEWER HANDRAIL", Detail: fe.Error(), Advice: advice}
	case errors.As(err, &ve) && ve.NotJournal:
		return Trouble{
			Title:  "NOT A HANDRAIL JOURNAL",
			Detail: fmt.Sprintf("%s: %v", path, ve),
			Advice: "Give the .jsonl file that handrail run writes for a session: its first line is a journal header.",
		}
	case errors.As(err, &ve) && ve.Changed:
		return Trouble{
			Title:  fmt.Sprintf("JOURNAL CHANGED after line %d", ve.Line),
			Detail: ve.Reason + ".",
			Advice: "What was shown up to line " + fmt.Sprint(ve.Line) + " was intact. A journal is only ever appended to: " +
				"find out who changed it. The operator's session stops at its next event (handrail notices too); " +
				"run handrail verify on the file, and compare its head hash with the one in the change ticket.",
		}
	case errors.As(err, &ve):
		return Trouble{
			Title:  fmt.Sprintf("JOURNAL TAMPERED at line %d", ve.Line),
			Detail: ve.Reason + ".",
			Advice: fmt.Sprintf("The lines before line %d are intact; line %d and what follows cannot be trusted (the screen may show line %d already). "+
				"Tell the operator and the change's owner; run handrail verify %s and compare its head hash with the one in the change ticket.",
				ve.Line, ve.Line, ve.Line, path),
		}
	}
	return Trouble{
		Title:  "CANNOT READ JOURNAL",
		Detail: err.Error(),
		Advice: "Check that " + path + " is a session journal (a .jsonl file handrail run wrote) on a working file system.",
	}
}
