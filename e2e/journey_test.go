package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ivrgw/ivrgw/journey"
	"github.com/ivrgw/ivrgw/routing"
	"github.com/ivrgw/ivrgw/sip/testphone/agent"
)

// TestJourneyAndMetrics: a scripted call presses an invalid key, asks for a
// person, talks to an agent who then hangs up. Its journey is written to
// the file and to the Redis stream, /calls shows it live, and every metric
// family it should move has moved by exactly this call.
func TestJourneyAndMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	redisURL := fbRedis(t)
	file := filepath.Join(t.TempDir(), "journeys.jsonl")
	args := []string{"-ring-timeout", "5s", "-journey-file", file}
	if redisURL != "" {
		args = append(args, "-redis", redisURL)
	}
	g := startGateway(t, args...)
	ag := agentStart(t, g, "1002", agent.AutoAnswer)

	start := time.Now()
	c := fbCaller(ctx, t, g, "5550123", "Jo Journey")
	fbAtMenu(ctx, t, c, start)
	if err := c.SendDigit4733('7', 100*time.Millisecond); err != nil { // not an option of main
		t.Fatal(err)
	}
	// The person key once the "invalid" prompt is heard: before the menu's
	// no-input timer could run.
	if err := waitPrompt(ctx, c, start, promptSignature(t, promptSet(t), "en", "invalid", c.Media().Codec)); err != nil {
		t.Fatal(err)
	}
	if err := c.SendDigit4733('0', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ac := fbWaitCall(ctx, t, ag)
	fbWaitAnswered(ctx, t, ac, "agent")

	live := getJSON[[]journey.Live](ctx, t, "http://"+g.HTTP+"/calls")
	if len(live) != 1 || live[0].CallID != c.CallID() || live[0].State != journey.LiveWithAgent || live[0].Agent != "1002" {
		t.Errorf("GET /calls while bridged = %+v, want the one call with_agent 1002", live)
	}

	if err := ac.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHangup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := g.waitLog(ctx, "call summary", c.CallID()); err != nil {
		t.Fatal(err)
	}

	// The file.
	var j journey.Journey
	if err := poll(ctx, "journey line in the file", func() bool {
		b, _ := os.ReadFile(file)
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			if json.Unmarshal(sc.Bytes(), &j) == nil && j.CallID == c.CallID() {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	checkJourney(t, "file", j)

	// The Redis stream.
	if redisURL != "" {
		rdb, err := routing.Dial(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		js := routing.New(rdb, routing.Options{}).Journeys(0)
		var got []journey.Journey
		if err := poll(ctx, "journey in the redis stream", func() bool {
			got, err = js.ReadJourneys(ctx, 10)
			return err == nil && len(got) > 0
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Errorf("stream holds %d journeys, want 1", len(got))
		}
		checkJourney(t, "redis stream", got[0])
	}

	// The metrics: this one call, counted once in each family.
	body := getBody(ctx, t, "http://"+g.HTTP+"/metrics")
	for _, want := range []string{
		`ivrgw_calls_ended_total{outcome="transfer:caller_request"} 1`,
		`ivrgw_calls_ended_by_total{by="agent"} 1`,
		`ivrgw_escalations_total{reason="caller_request"} 1`,
		`ivrgw_menu_funnel_total{event="entered",menu="main"} 1`,
		`ivrgw_menu_funnel_total{event="invalid",menu="main"} 1`,
		`ivrgw_menu_funnel_total{event="option",menu="main"} 1`, // the person key
		`ivrgw_menu_funnel_total{event="asked_person",menu="main"} 1`,
		`ivrgw_dtmf_total{method="rfc4733"} 2`,
		"ivrgw_time_to_person_seconds_count 1",
		"ivrgw_queue_wait_seconds_count 1",
		"ivrgw_menu_seconds_count 1",
		"ivrgw_calls_total 1",
		"ivrgw_calls_active 0",
		`ivrgw_agents{state="offline"}`, // the directory's agents who never registered
		"ivrgw_agents_registered 1",
		"ivrgw_agent_store_up 1",
		"ivrgw_agent_store_ping_seconds ",
		"ivrgw_agent_store_ping_failures_total 0",
		"ivrgw_rtp_ports_in_use 0",
		"ivrgw_rtp_received_packets_total ",
		"ivrgw_rtp_foreign_dropped_total 0",
		"ivrgw_rtp_ports_quarantined ",
		`ivrgw_sip_invite_responses_total{code="100"} 1`,
		`ivrgw_sip_invite_responses_total{code="200"} 1`,
		"ivrgw_registrations 1",
		"ivrgw_rtp_lost_packets_total 0",
		`ivrgw_menu_reloads_total{result="ok"} 0`,
		`ivrgw_sip_rate_limited_total{method="INVITE"} 0`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", grepLines(body, "ivrgw_"))
	}
}

func checkJourney(t *testing.T, where string, j journey.Journey) {
	t.Helper()
	if j.Caller != "5550123" || j.Escalated != "caller_request" || j.Queue != "support" || j.Agent != "1002" ||
		j.EndedBy != "agent" || j.ToPerson <= 0 || j.InMenu <= 0 || j.Outcome != "transfer:caller_request" ||
		strings.Join(j.Path, ">") != "main" || j.Keys != "70" || j.RTPIn == 0 {
		t.Errorf("%s: journey = %+v", where, j)
	}
	var kinds []string
	for _, s := range j.Steps {
		switch s.Kind {
		case journey.StepPrompt:
			continue
		case journey.StepKey:
			kinds = append(kinds, s.Kind+":"+s.Key+":"+s.Method)
		case journey.StepInvalid, journey.StepOption:
			kinds = append(kinds, s.Kind+":"+s.Menu+":"+s.Key)
		case journey.StepRinging, journey.StepAnswered:
			kinds = append(kinds, s.Kind+":"+s.Agent)
		case journey.StepBridged, journey.StepEnd:
			kinds = append(kinds, s.Kind+":"+s.By)
		default:
			kinds = append(kinds, s.Kind)
		}
	}
	want := "menu key:7:rfc4733 invalid:main:7 key:0:rfc4733 option:main:0 escalate queued ringing:1002 answered:1002 bridge_end:agent end:agent"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("%s: journey steps (prompts left out) =\n%s\nwant\n%s", where, got, want)
	}
}

func getBody(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func getJSON[T any](ctx context.Context, t *testing.T, url string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(getBody(ctx, t, url)), &v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return v
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
