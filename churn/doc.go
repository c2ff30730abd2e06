// Package churn is the churn engine: it creates the workload a profile
// describes (namespaces, a Service and a Deployment per slot), waits until
// every replica is Ready, then runs the churn phase (scale one deployment
// every interval, relabel one namespace every relabel interval) on an
// absolute time grid, records every action, and tears down by run label.
//
// # Pacing policy
//
// Action k of the plan is scheduled at phase start + its offset (k x scale
// interval for scale actions, j x relabel interval for relabels), so timer
// slop never accumulates into drift. Actions run concurrently, at most
// MaxInFlight at once. When all slots are busy the next action waits for a
// slot and then starts late; its lag (start - scheduled) is recorded. No
// action is ever skipped while the phase lasts: after a stall the pacer
// starts the overdue actions back to back until it is on the grid again,
// like an open-loop load generator, so the control plane sees the planned
// number of changes. The backlog is bounded: at most MaxInFlight actions
// running plus one waiting for a slot; later actions are not yet due or wait
// their turn in the plan, holding no goroutine and no memory.
//
// At the planned end of the phase no new action starts: an action still
// waiting for a slot, and every later one, is recorded as not-started
// (counted, never dropped silently), and the actions in flight finish, each
// bounded by the profile's actionTimeout.
//
// Everything the engine creates carries the labels churn.dev/run=<run id>
// and app.kubernetes.io/managed-by=churn, and teardown deletes only what
// carries the run label.
package churn
