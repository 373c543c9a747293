package flows

// ChannelAfter reports whether the flow may still command the caller's
// channel once applet id leaves by output: whether an applet that plays,
// listens, rings or records (or a Transfer, whose flow is not known
// until then) can be reached from there. Applets that only talk to the
// outside world (SMS, Email, Passthru), choose a way (Switch, Business
// hours) or hang up do not need the channel, nor does the end of the flow.
// An applet that is not in the flow counts as needing it.
func (f *Flow) ChannelAfter(id, output string) bool {
	a := f.Applets[id]
	if a == nil {
		return true
	}
	seen := map[string]bool{}
	next := []string{a.Outputs[output]}
	for len(next) > 0 {
		id := next[len(next)-1]
		next = next[:len(next)-1]
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		a := f.Applets[id]
		if a == nil || usesMedia(a.Type) {
			return true
		}
		for _, to := range a.Outputs {
			next = append(next, to)
		}
	}
	return false
}
