package runner

import (
	"os"
	"testing"

	"github.com/churn-dev/churn/deploy/local"
)

func TestProcCPUSecondsOfThisProcess(t *testing.T) {
	before, err := local.ProcessCPUSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for i := 0; i < 200_000_000; i++ {
		x += i ^ (x >> 3)
	}
	after, err := local.ProcessCPUSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before || x == 42 {
		t.Errorf("CPU seconds %v then %v after busy work: want them to grow", before, after)
	}
	if _, err := local.ProcessCPUSeconds(1 << 30); err == nil {
		t.Error("a missing process must be an error")
	}
}
