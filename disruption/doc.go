// Package disruption carries out plans of steps in time during churn: a
// fault (kill a process, start it again), a rolling upgrade (replace each
// control-plane process in turn with another release), a mesh rollout
// (restart agents in waves). They differ only in their steps, so one engine
// runs them and one record (results.Disruption) describes what each did and
// when; the report draws one timeline from it.
package disruption
