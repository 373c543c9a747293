// Package examples holds ready-made flow documents: the seed documents'
// "Basic Support Flow" and "After-Hours Flow", and a main line that picks
// between them by office hours. They seed the demo account and serve as
// test fixtures.
package examples

import "embed"

// FS holds the example documents, named <id>.json.
//
//go:embed *.json
var FS embed.FS

// Names of the example documents, which double as their demo flow ids.
const (
	BasicSupport = "basic-support"
	AfterHours   = "after-hours"
	MainLine     = "main-line"
	// BasicSupportTones is Basic Support with tones for prompts, for load
	// tests; fsnode's native twin runs the same call in the dialplan.
	BasicSupportTones = "basic-support-tones"
)

// Read returns one example document by name.
func Read(name string) ([]byte, error) {
	return FS.ReadFile(name + ".json")
}
