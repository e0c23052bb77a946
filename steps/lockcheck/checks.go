package lockcheck

// checkKind is something only the catalog can settle about a lock.
type checkKind uint8

const (
	// ckDML: the target of INSERT/UPDATE/DELETE/MERGE: its foreign keys,
	// triggers and partitions may take further locks when rows change.
	ckDML checkKind = iota + 1
	// ckTypeChange: ALTER COLUMN col TYPE typ rewrites unless the change is
	// binary-coercible from the column's current type.
	ckTypeChange
	// ckDefault: ADD COLUMN col typ DEFAULT expr rewrites if expr calls a
	// volatile function (funcs) or typ is a domain with constraints.
	ckDefault
	// ckNotNullProof: SET NOT NULL scans unless a validated CHECK
	// (col IS NOT NULL) proves it.
	ckNotNullProof
	// ckPKNotNull: ADD PRIMARY KEY USING INDEX name scans to set NOT NULL
	// on key columns that are not NOT NULL yet.
	ckPKNotNull
	// ckReferencing: tables with a foreign key to this one get mode
	// (TRUNCATE ... CASCADE, DROP TABLE ... CASCADE).
	ckReferencing
	// ckReferenced: the tables this one's foreign keys reference get mode
	// (dropping the table drops the triggers on them).
	ckReferenced
	// ckDropConstraint: DROP CONSTRAINT name: a foreign key's referenced
	// table gets ACCESS EXCLUSIVE too.
	ckDropConstraint
	// ckValidate: VALIDATE CONSTRAINT name: a foreign key's referenced
	// table gets ROW SHARE.
	ckValidate
	// ckDropColumn: DROP COLUMN col drops the foreign keys using it: their
	// referenced tables get ACCESS EXCLUSIVE.
	ckDropColumn
	// ckIfExists: the lock is taken only if the relation exists already
	// (CREATE OR REPLACE VIEW; DROP ... IF EXISTS, ALTER ... IF EXISTS).
	ckIfExists
	// ckDefaultPartition: the parent's default partition, if any, gets
	// ACCESS EXCLUSIVE and a scan (ATTACH PARTITION, CREATE TABLE ...
	// PARTITION OF).
	ckDefaultPartition
	// ckAttachScan: ATTACH PARTITION scans the partition unless its
	// constraints already imply the partition bound.
	ckAttachScan
	// ckParent: dropping a partition takes ACCESS EXCLUSIVE on its parent.
	ckParent
	// ckObjectExists: DROP POLICY/TRIGGER/RULE IF EXISTS name (verb, name)
	// locks the table only if the object exists.
	ckObjectExists
	// ckIndexExists: CREATE INDEX IF NOT EXISTS rel builds (and scans)
	// only when no relation of that name exists.
	ckIndexExists
	// ckTypeChangeFKs: ALTER COLUMN col TYPE rebuilds the foreign keys
	// that use the column, locking the tables at their other end.
	ckTypeChangeFKs
)

// check is one question for Weigh about one lock.
type check struct {
	kind    checkKind
	verb    string
	col     string
	typ     string
	funcs   []Rel
	name    string
	rel     Rel
	mode    Mode
	finding int // 1 + index of the conditional finding it settles; 0: none
}
