package callback

import (
	"context"
	"fmt"
	"slices"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// rescueBatch bounds the running deliveries one Rescue looks at.
const rescueBatch = 1000

// Rescue makes the deliveries that dead instances left running (their
// queue client IDs in dead, see Config.ClientID) due again now. The
// queue's own rescuer would take them only after RescueAfter (minutes),
// because it cannot tell a dead process from a slow one; the instances'
// heartbeats can. A delivery rescued here may have reached the receiver
// before its instance died: callbacks are delivered at least once.
func (s *Service) Rescue(ctx context.Context, dead []string) (int, error) {
	if len(dead) == 0 {
		return 0, nil
	}
	res, err := s.queue.JobList(ctx, river.NewJobListParams().Queues(queueName).
		States(rivertype.JobStateRunning).First(rescueBatch))
	if err != nil {
		return 0, fmt.Errorf("callback: rescue: list running: %w", err)
	}
	n := 0
	for _, j := range res.Jobs {
		if len(j.AttemptedBy) == 0 || !slices.Contains(dead, j.AttemptedBy[len(j.AttemptedBy)-1]) {
			continue
		}
		// The queue has no call for this: a running job is its worker's.
		// Its worker is dead, so the row is set back to available as the
		// queue's rescuer would, minus the wait.
		tx := s.db.Gorm().WithContext(ctx).Exec(`UPDATE river_job SET state = 'available' WHERE id = ? AND state = 'running'`, j.ID)
		if tx.Error != nil {
			return n, fmt.Errorf("callback: rescue job %d: %w", j.ID, tx.Error)
		}
		n += int(tx.RowsAffected)
	}
	if n > 0 {
		s.log.WarnContext(ctx, "callback: deliveries a dead instance left running are due again", "jobs", n)
	}
	return n, nil
}
