// Package domain holds trackflow's types and rules with no I/O: money and commission, the
// conversion with its statuses and reasons, the one function that decides a conversion (Decide),
// macros, ids and the error kinds. store (PostgreSQL), api (HTTP), activities and workflows
// (Temporal) import it; it imports none of them.
package domain
