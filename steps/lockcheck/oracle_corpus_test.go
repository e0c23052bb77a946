package lockcheck

// The oracle corpus: for every rule, statements where it fires and where
// it does not, plus the forms a migration uses (multi-subcommand ALTER
// TABLE, quoted and schema-qualified names, partitioned and inherited
// tables, DO blocks). Each case runs in a schema of its own holding
// oracleBase; setup is committed first, then each statement of step is
// predicted (Analyze + Weigh on the state before it), run in BEGIN ...
// ROLLBACK and compared with pg_locks, relfilenode and the transaction's
// scan counters, then applied for the next statement.

// oracleBase is created in each case's schema.
const oracleBase = `
create table customers (id int primary key, name text, email varchar(100), score numeric(10,2), created timestamp(3));
insert into customers select g, 'n' || g, 'e' || g, g, '2024-01-01' from generate_series(1, 50) g;
create table orders (id bigserial primary key, customer_id int references customers (id), total numeric(12,2),
  note text, status text, created_at timestamptz default now());
insert into orders (customer_id, total, note, status) select (g % 50) + 1, g, 'x', 'new' from generate_series(1, 200) g;
create index orders_status_idx on orders (status);
create table audit (id int, at timestamptz);
insert into audit values (1, now());
create table events (id bigint, kind text, at date not null) partition by range (at);
create table events_2024 partition of events for values from ('2024-01-01') to ('2025-01-01');
create table events_2025 partition of events for values from ('2025-01-01') to ('2026-01-01');
insert into events values (1, 'a', '2024-05-01'), (2, 'b', '2025-05-01');
create table parent_inh (id int);
create table child_inh () inherits (parent_inh);
create domain positive_int as int check (value > 0);
create function my_volatile() returns int language plpgsql volatile as 'begin return 1; end';
create function my_sql_volatile() returns int language sql volatile as 'select 1';
create table names_t (name text);
insert into names_t values ('a');
create function my_stable() returns int language sql stable as 'select 1';
create function trg() returns trigger language plpgsql as $$begin return new; end$$;
create materialized view mv as select id, name from customers;
create unique index mv_id on mv (id);
`

type oracleCase struct {
	name  string
	setup string
	step  string
	noTx  bool     // a step with transaction = false
	fires []string // rules that apply after Weigh (Level > None)
	not   []string // rules that must not apply
	// unknown: the statements (0-based) whose locks must be reported
	// Unknown, never guessed.
	unknown []int
	// teardown runs after the case (objects outside the case's schema).
	teardown string
}

var oracleCases = []oracleCase{
	// create-index-blocking
	{name: "create index blocks writes", step: `create index on orders (total)`, fires: []string{RuleCreateIndexBlocking}},
	{name: "create index concurrently", step: `create index concurrently orders_total_c on orders (total)`, noTx: true,
		not: []string{RuleCreateIndexBlocking}},
	{name: "index on a table the step creates", step: `create table fresh (id int); create index on fresh (id)`,
		not: []string{RuleCreateIndexBlocking, RuleLockHeldUntilCommit}},
	{name: "index on a partitioned table", step: `create index on events (kind)`, fires: []string{RuleCreateIndexBlocking}},
	{name: "index on only the partitioned parent", step: `create index on only events (kind)`, fires: []string{RuleCreateIndexBlocking}},
	{name: "unique index, quoted and schema-qualified", setup: `create schema "Sales"; create table "Sales"."Order Items" ("Id" int primary key, "Qty" int)`,
		step: `create unique index "Qty_uq" on "Sales"."Order Items" ("Qty")`, fires: []string{RuleCreateIndexBlocking},
		teardown: `drop schema "Sales" cascade`},

	{name: "create index if not exists, and it does", setup: `create index orders_total_idx on orders (total)`,
		step: `create index if not exists orders_total_idx on orders (total)`, not: []string{RuleCreateIndexBlocking}},
	{name: "create index if not exists, and it does not", step: `create index if not exists orders_total_idx on orders (total)`,
		fires: []string{RuleCreateIndexBlocking}},

	// drop-index-blocking
	{name: "drop index", step: `drop index orders_status_idx`, fires: []string{RuleDropIndexBlocking}},
	{name: "drop index if exists, and it does not", step: `drop index if exists no_such_index; drop table if exists no_such_table; alter table if exists no_such_table add column x int`},
	{name: "drop index concurrently", step: `drop index concurrently orders_status_idx`, noTx: true, not: []string{RuleDropIndexBlocking}},
	{name: "drop an index the step created", step: `create index tmp_idx on orders (note); drop index tmp_idx`,
		fires: []string{RuleCreateIndexBlocking}, not: []string{RuleDropIndexBlocking}},

	// add-check-validates, add-foreign-key-validates, validate-same-transaction
	{name: "check constraint validates", step: `alter table orders add constraint total_pos check (total >= 0)`,
		fires: []string{RuleAddCheckValidates}},
	{name: "check constraint not valid", step: `alter table orders add constraint total_pos check (total >= 0) not valid`,
		not: []string{RuleAddCheckValidates}},
	{name: "not valid then validate, one transaction",
		step:  `alter table orders add constraint total_pos check (total >= 0) not valid; alter table orders validate constraint total_pos`,
		fires: []string{RuleValidateSameTx, RuleLockHeldUntilCommit}},
	{name: "not valid then validate, separate transactions", noTx: true,
		step: `alter table orders add constraint total_pos check (total >= 0) not valid; alter table orders validate constraint total_pos`,
		not:  []string{RuleValidateSameTx, RuleAddCheckValidates}},
	{name: "foreign key validates", step: `alter table orders add constraint orders_cust_fk2 foreign key (customer_id) references customers (id)`,
		fires: []string{RuleAddForeignKeyValidates}},
	{name: "foreign key not valid", step: `alter table orders add constraint orders_cust_fk2 foreign key (customer_id) references customers (id) not valid`,
		not: []string{RuleAddForeignKeyValidates}},
	{name: "validate a foreign key", setup: `alter table orders add constraint orders_cust_fk2 foreign key (customer_id) references customers (id) not valid`,
		step: `alter table orders validate constraint orders_cust_fk2`, not: []string{RuleValidateSameTx}},
	{name: "foreign key to a partitioned table", setup: `alter table events add primary key (id, at); create table event_refs (event_id bigint, at date)`,
		step: `alter table event_refs add foreign key (event_id, at) references events (id, at)`, fires: []string{RuleAddForeignKeyValidates}},

	// set-not-null-scans
	{name: "set not null scans", step: `alter table customers alter column name set not null`, fires: []string{RuleSetNotNullScans}},
	{name: "set not null proved by a validated check", setup: `alter table customers add constraint name_nn check (name is not null)`,
		step: `alter table customers alter column name set not null`, not: []string{RuleSetNotNullScans}},
	{name: "set not null proved earlier in the step", noTx: true,
		step: `alter table customers add constraint email_nn check (email is not null) not valid;
alter table customers validate constraint email_nn;
alter table customers alter column email set not null;
alter table customers drop constraint email_nn`,
		not: []string{RuleSetNotNullScans, RuleAddCheckValidates}},
	{name: "set not null on a partitioned table", step: `alter table events alter column kind set not null`, fires: []string{RuleSetNotNullScans}},

	// column-type-rewrite
	{name: "numeric scale change rewrites", step: `alter table orders alter column total type numeric(12,4)`, fires: []string{RuleColumnTypeRewrite}},
	{name: "numeric precision increase", step: `alter table orders alter column total type numeric(14,2)`, not: []string{RuleColumnTypeRewrite}},
	{name: "longer varchar", step: `alter table customers alter column email type varchar(200)`, not: []string{RuleColumnTypeRewrite}},
	{name: "varchar to text", step: `alter table customers alter column email type text`, not: []string{RuleColumnTypeRewrite}},
	{name: "shorter varchar rewrites", step: `alter table customers alter column email type varchar(50)`, fires: []string{RuleColumnTypeRewrite}},
	{name: "text to varchar(n) rewrites", step: `alter table names_t alter column name type varchar(20)`, fires: []string{RuleColumnTypeRewrite}},
	{name: "int to bigint rewrites", step: `alter table audit alter column id type bigint`, fires: []string{RuleColumnTypeRewrite}},
	{name: "type change with USING", step: `alter table orders alter column note type int using length(note)`, fires: []string{RuleColumnTypeRewrite}},
	{name: "more timestamp precision", step: `alter table customers alter column created type timestamp(6)`, not: []string{RuleColumnTypeRewrite}},
	{name: "timestamptz to timestamp", step: `alter table orders alter column created_at type timestamp`},
	{name: "type change of a column other tables reference", setup: `create table p1 (id int primary key); create table c1 (pid int references p1 (id)); insert into p1 values (1); insert into c1 values (1)`,
		step: `alter table p1 alter column id type bigint`, fires: []string{RuleColumnTypeRewrite}},
	{name: "type change of a referencing column", setup: `create table p1 (id int primary key); create table c1 (pid int references p1 (id)); insert into p1 values (1); insert into c1 values (1)`,
		step: `alter table c1 alter column pid type bigint`, fires: []string{RuleColumnTypeRewrite}},
	{name: "type change on a partitioned table", step: `alter table events alter column id type int`, fires: []string{RuleColumnTypeRewrite}},

	// add-column-volatile-default
	{name: "volatile default (well known)", step: `alter table orders add column u uuid default gen_random_uuid()`, fires: []string{RuleVolatileDefault}},
	{name: "volatile default (looked up)", step: `alter table orders add column v int default my_volatile()`, fires: []string{RuleVolatileDefault}},
	{name: "volatile SQL function default is not settled", step: `alter table orders add column w int default my_sql_volatile()`},
	{name: "stable default (looked up)", step: `alter table orders add column s int default my_stable()`, not: []string{RuleVolatileDefault}},
	{name: "constant default", step: `alter table orders add column flag boolean not null default true`, not: []string{RuleVolatileDefault}},
	{name: "now() default", step: `alter table orders add column seen timestamptz default now()`, not: []string{RuleVolatileDefault}},
	{name: "bigserial column", step: `alter table audit add column n bigserial`, fires: []string{RuleVolatileDefault}},
	{name: "domain with a constraint", step: `alter table audit add column p positive_int`, fires: []string{RuleVolatileDefault}},
	{name: "stored generated column", step: `alter table audit add column twice int generated always as (id * 2) stored`, fires: []string{RuleVolatileDefault}},
	{name: "not null column without default on an empty table", setup: `create table empty_t (id int)`,
		step: `alter table empty_t add column x int not null`},
	{name: "add column to a partitioned table", step: `alter table events add column note text default 'n'`, not: []string{RuleVolatileDefault}},
	{name: "add column to an inheritance parent", step: `alter table parent_inh add column x int`},

	// add-unique-without-index
	{name: "add unique builds an index", step: `alter table customers add constraint email_uq unique (email)`, fires: []string{RuleUniqueWithoutIndex}},
	{name: "add unique using index", setup: `create unique index email_uq_idx on customers (email)`,
		step: `alter table customers add constraint email_uq unique using index email_uq_idx`, not: []string{RuleUniqueWithoutIndex}},
	{name: "primary key using index, columns already not null", setup: `create table pk_t (id int not null); create unique index pk_t_idx on pk_t (id)`,
		step: `alter table pk_t add constraint pk_t_idx primary key using index pk_t_idx`, not: []string{RuleUniqueWithoutIndex}},
	{name: "primary key using index on a nullable column", setup: `create table pk_n (id int); insert into pk_n values (1); create unique index pk_n_idx on pk_n (id)`,
		step: `alter table pk_n add primary key using index pk_n_idx`, not: []string{RuleUniqueWithoutIndex}},
	{name: "add primary key", setup: `create table pk_b (id int)`, step: `alter table pk_b add primary key (id)`, fires: []string{RuleUniqueWithoutIndex}},

	// lock-held-until-commit
	{name: "statements after ACCESS EXCLUSIVE", step: `alter table orders add column a int; update orders set note = 'y' where id = 1`,
		fires: []string{RuleLockHeldUntilCommit}},
	{name: "the same, outside a transaction", noTx: true, step: `alter table orders add column a int; update orders set note = 'y' where id = 1`,
		not: []string{RuleLockHeldUntilCommit}},
	{name: "ACCESS EXCLUSIVE last", step: `update orders set note = 'y' where id = 1; alter table orders add column a int`,
		not: []string{RuleLockHeldUntilCommit}},

	// timeout-override
	{name: "lock_timeout off", step: `set lock_timeout = 0`, fires: []string{RuleTimeoutOverride}},
	{name: "reset all", step: `reset all`, fires: []string{RuleTimeoutOverride}},
	{name: "statement_timeout through set_config", step: `select set_config('statement_timeout', '0', false)`, fires: []string{RuleTimeoutOverride}},
	{name: "other settings", step: `set work_mem = '64MB'; set local search_path = public`, not: []string{RuleTimeoutOverride}},

	// destructive
	{name: "drop table", step: `drop table audit`, fires: []string{RuleDropTable}},
	{name: "drop table with a foreign key", step: `drop table orders`, fires: []string{RuleDropTable}},
	{name: "drop a partition", step: `drop table events_2024`, fires: []string{RuleDropTable}},
	{name: "drop a table the step created", step: `create table scratch (id int); drop table scratch`, not: []string{RuleDropTable}},
	{name: "drop column", step: `alter table orders drop column note`, fires: []string{RuleDropColumn}},
	{name: "drop a foreign-key column", step: `alter table orders drop column customer_id`, fires: []string{RuleDropColumn}},
	{name: "drop a foreign key constraint", step: `alter table orders drop constraint orders_customer_id_fkey`, not: []string{RuleDropColumn}},
	{name: "truncate", step: `truncate audit`, fires: []string{RuleTruncate}},
	{name: "truncate a table the step created", step: `create table tmp_t (id int); truncate tmp_t`, not: []string{RuleTruncate}},
	{name: "truncate cascade", step: `truncate customers cascade`, fires: []string{RuleTruncate}},
	{name: "truncate a partitioned table", step: `truncate events`, fires: []string{RuleTruncate}},
	{name: "rename table", step: `alter table audit rename to audit_old`, fires: []string{RuleRenameTable}},
	{name: "rename column", step: `alter table orders rename column note to remark`, fires: []string{RuleRenameColumn}},
	{name: "rename constraint", step: `alter table orders rename constraint orders_customer_id_fkey to orders_cust_fk`,
		not: []string{RuleRenameColumn, RuleRenameTable}},
	{name: "rename index", step: `alter index orders_status_idx rename to orders_status_i`, not: []string{RuleRenameTable}},

	// locks-unknown
	{name: "DO block", step: `do $$ begin alter table orders add column z int; end $$`, fires: []string{RuleLocksUnknown}, unknown: []int{0}},
	{name: "plain DDL is not unknown", step: `alter table orders add column z int`, not: []string{RuleLocksUnknown}},

	// More forms.
	{name: "multi-subcommand ALTER TABLE",
		step: `alter table orders add column a int, alter column note set default 'n', add constraint ck check (total > -1) not valid, alter column status set statistics 100`},
	{name: "multi-subcommand, weakest locks", step: `alter table orders alter column status set statistics 100, set (fillfactor = 70, autovacuum_enabled = false)`},
	{name: "storage parameter needing ACCESS EXCLUSIVE", setup: `create view v_orders as select * from orders`,
		step: `alter view v_orders set (security_barrier = true)`},
	{name: "row level security", step: `alter table orders enable row level security; alter table orders force row level security`},
	{name: "row level security on a partitioned table", step: `alter table events enable row level security`},
	{name: "disable triggers", step: `alter table orders disable trigger all`},
	{name: "create trigger", step: `create trigger t1 before update on orders for each row execute function trg()`},
	{name: "drop trigger", setup: `create trigger t1 before update on orders for each row execute function trg()`, step: `drop trigger t1 on orders`},
	{name: "create policy", step: `create policy p1 on orders using (customer_id = 1)`},
	{name: "create policy with a subquery", step: `create policy p2 on orders using (exists (select 1 from customers c where c.id = customer_id))`},
	{name: "drop policy", setup: `create policy p1 on orders using (true)`, step: `drop policy p1 on orders`},
	{name: "comment on table and column", step: `comment on table orders is 'o'; comment on column orders.note is 'n'`},
	{name: "lock table", step: `lock table orders in share mode; lock audit`},
	{name: "analyze", step: `analyze orders`},
	{name: "vacuum", step: `vacuum orders`, noTx: true},
	{name: "vacuum full", step: `vacuum full audit`, noTx: true},
	{name: "cluster", step: `cluster orders using orders_pkey`},
	{name: "reindex index", step: `reindex index orders_status_idx`},
	{name: "reindex table", step: `reindex table orders`},
	{name: "reindex concurrently", step: `reindex index concurrently orders_status_idx`, noTx: true},
	{name: "refresh materialized view", step: `refresh materialized view mv`},
	{name: "refresh materialized view concurrently", step: `refresh materialized view concurrently mv`},
	{name: "create view", step: `create view v1 as select o.id, c.name from orders o join customers c on c.id = o.customer_id`},
	{name: "create or replace an existing view", setup: `create view v1 as select id from orders`,
		step: `create or replace view v1 as select id, note from orders`},
	{name: "create table referencing another", step: `create table refs (id int, customer_id int references customers (id))`},
	{name: "create table like", step: `create table orders_copy (like orders including all)`},
	{name: "create table as", step: `create table customer_names as select name from customers`},
	{name: "create a partition", step: `create table events_2026 partition of events for values from ('2026-01-01') to ('2027-01-01')`},
	{name: "create a partition next to a default partition", setup: `create table events_default partition of events default`,
		step: `create table events_2027 partition of events for values from ('2027-01-01') to ('2028-01-01')`},
	{name: "attach a partition", setup: `create table events_2026 (like events)`,
		step: `alter table events attach partition events_2026 for values from ('2026-01-01') to ('2027-01-01')`},
	{name: "attach a partition with a default partition", setup: `create table events_default partition of events default; create table events_2026 (like events)`,
		step: `alter table events attach partition events_2026 for values from ('2026-01-01') to ('2027-01-01')`},
	{name: "detach a partition", step: `alter table events detach partition events_2024`},
	{name: "detach a partition concurrently", step: `alter table events detach partition events_2024 concurrently`, noTx: true},
	{name: "create statistics", step: `create statistics st1 on customer_id, status from orders`},
	{name: "storage and replica identity", step: `alter table orders alter column note set storage external, replica identity full`},
	{name: "alter sequence", step: `alter sequence orders_id_seq restart with 1000`},
	{name: "set schema", setup: `create schema archive`, step: `alter table audit set schema archive`, teardown: `drop schema archive cascade`},
	{name: "set logged and unlogged", step: `alter table audit set unlogged`},
	{name: "grant", step: `grant select on orders to public`},
	{name: "insert", step: `insert into orders (customer_id, total) values (1, 5)`},
	{name: "insert from a select", step: `insert into audit select id, now() from customers`},
	{name: "update with a join", step: `update orders o set note = c.name from customers c where c.id = o.customer_id and o.id < 3`},
	{name: "delete", step: `delete from audit where id = 1`},
	{name: "delete from a referenced table", setup: `insert into customers values (999, 'gone')`, step: `delete from customers where id = 999`},
	{name: "merge", step: `merge into audit a using customers c on a.id = c.id when not matched then insert values (c.id, now())`},
	{name: "update through a CTE", step: `with big as (select id from customers where id > 40) update orders o set note = 'big' from big where big.id = o.customer_id`},
	{name: "a data-modifying CTE", step: `with gone as (delete from audit where id = 1 returning *) insert into audit select id + 100, at from gone`},
	{name: "select for update", step: `select * from orders where id = 1 for update`},
	{name: "select with a CTE and a subquery",
		step: `with recent as (select * from orders where id > 190) select r.id, (select name from customers c where c.id = r.customer_id), extract(year from r.created_at) from recent r`},
	{name: "select from a partitioned table", step: `select count(*) from events where kind = 'a'`},
	{name: "schema-qualified and quoted ALTER TABLE", setup: `create schema "Sales"; create table "Sales"."Order Items" ("Id" int primary key, "Qty" int)`,
		step:  `alter table "Sales"."Order Items" add column "Note" text, alter column "Qty" set default 1; alter table "Sales"."Order Items" rename column "Qty" to "Quantity"`,
		fires: []string{RuleRenameColumn, RuleLockHeldUntilCommit}, teardown: `drop schema "Sales" cascade`},
	{name: "create extension is unknown", step: `create extension if not exists plpgsql`, fires: []string{RuleLocksUnknown}, unknown: []int{0}},
}
