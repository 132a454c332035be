package counters

import "testing"

func TestSnapshotSubtractsCountersButKeepsGauges(t *testing.T) {
	var s Set
	s.Received.Add(10)
	s.AddDropped(DropBudget, 2)
	s.AddBackendError(ErrHTTP5XX)
	first := s.Snapshot()
	first.QueueBytes = 100
	s.Received.Add(5)
	s.AddDropped(DropBudget, 1)
	s.AddDropped(DropMaxAge, 4)
	second := s.Snapshot()
	second.QueueBytes = 40
	d := second.Sub(first)
	if d.Received != 5 || d.Dropped[DropBudget] != 1 || d.Dropped[DropMaxAge] != 4 || d.BackendErrors[ErrHTTP5XX] != 0 {
		t.Fatalf("unexpected delta %+v", d)
	}
	if d.QueueBytes != 40 {
		t.Fatalf("gauge QueueBytes = %d, want 40", d.QueueBytes)
	}
	if got := s.DroppedTotal(); got != 7 {
		t.Fatalf("DroppedTotal = %d, want 7", got)
	}
	if DropBudget.String() != "budget" || ErrHTTP4XX.String() != "http_4xx" || DropReason(99).String() != "unknown" {
		t.Fatal("label names wrong")
	}
}
