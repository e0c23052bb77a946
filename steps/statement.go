package steps

import "github.com/handrail-dev/handrail/steps/sqlscan"

// Statement is one SQL statement of a step, as split by package sqlscan
// (File and Line say where it is, for messages and the journal).
type Statement = sqlscan.Statement
