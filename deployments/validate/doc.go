// Package validate checks trackflow's deployment files without a cluster or a Docker engine:
// the compose files load as Compose does, every Kubernetes manifest (after kustomize build)
// decodes strictly into the Kubernetes API types and agrees with itself and with the code, and
// the Temporal Helm values and the dev scripts name the search attributes the code registers. It
// is a module of its own so that the Kubernetes, kustomize and compose libraries (some hundred
// modules) stay out of the service's go.mod; it reads what it needs of the service (the env
// vars, the search attributes) from the source, so the service's dependencies stay out of this
// one.
// deployments/local/test.sh runs it in `make test`.
package validate
