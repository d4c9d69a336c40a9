package dind

// Action says what converging a node container or a component container
// to its plan did.
type Action string

// What converging can do.
const (
	Created  Action = "created"
	Started  Action = "started"
	Kept     Action = "kept"
	Replaced Action = "replaced"
)

// Observed is what exists of a container a plan wants.
type Observed struct {
	// Exists: there is a container of the name.
	Exists bool
	// Spec is its LabelSpec, the hash of the configuration it was made
	// with.
	Spec    string
	Running bool
}

// decide is the one converge decision, for node containers on the outer
// engine and component containers in each node's engine alike (RKE's
// run-container helper makes the same): nothing there is created; a
// container made from the plan's configuration is kept when it runs and
// started when it does not; any other is replaced. It is pure.
func decide(have Observed, want string) Action {
	switch {
	case !have.Exists:
		return Created
	case have.Spec != want:
		return Replaced
	case have.Running:
		return Kept
	default:
		return Started
	}
}
