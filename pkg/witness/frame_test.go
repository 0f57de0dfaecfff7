package witness

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	g := GroupOf("kube-system/vipkeeper")
	good, err := Beacon{Group: g, Seq: 7, Node: "node-a"}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	padded := append(append([]byte{}, good...), make([]byte, 20)...)
	for _, tc := range []struct {
		name    string
		in      []byte
		want    Beacon
		wantErr error
	}{
		{name: "a beacon", in: good, want: Beacon{Group: g, Seq: 7, Node: "node-a"}},
		{name: "padding is ignored", in: padded, want: Beacon{Group: g, Seq: 7, Node: "node-a"}},
		{name: "empty", in: nil, wantErr: ErrNotBeacon},
		{name: "other magic", in: []byte("XYZ\x01aaaaaaaaaaaaaaaaaaa"), wantErr: ErrNotBeacon},
		{name: "other version", in: append([]byte("VKW\x02"), good[4:]...), wantErr: ErrVersion},
		{name: "header cut short", in: good[:headerLen-1], wantErr: ErrTruncated},
		{name: "name cut short", in: good[:len(good)-1], wantErr: ErrTruncated},
		{name: "empty name", in: append(append([]byte{}, good[:headerLen-1]...), 0), wantErr: ErrNotBeacon},
		{name: "name longer than allowed", in: append(append([]byte{}, good[:headerLen-1]...), 254), wantErr: ErrNotBeacon},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Parse error = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarshalBounds(t *testing.T) {
	for _, tc := range []struct {
		node string
		ok   bool
	}{{"", false}, {"a", true}, {strings.Repeat("n", MaxNameLen), true}, {strings.Repeat("n", MaxNameLen+1), false}} {
		p, err := Beacon{Node: tc.node}.Marshal()
		if (err == nil) != tc.ok {
			t.Errorf("Marshal(node of %d bytes) error = %v, want ok %v", len(tc.node), err, tc.ok)
		}
		if len(p) > MaxPayloadLen {
			t.Errorf("Marshal(node of %d bytes) is %d bytes, more than %d", len(tc.node), len(p), MaxPayloadLen)
		}
	}
}

func TestGroupOf(t *testing.T) {
	if GroupOf("kube-system/vipkeeper") == GroupOf("kube-system/other") {
		t.Error("two groups share an identifier")
	}
	if GroupOf("a/b") != GroupOf("a/b") {
		t.Error("one group, two identifiers")
	}
}

// FuzzParse: Parse never panics, and what it accepts survives a round
// trip through Marshal, within the bounds.
func FuzzParse(f *testing.F) {
	good, _ := Beacon{Group: GroupOf("g"), Seq: 1, Node: "node-a"}.Marshal()
	f.Add(good)
	f.Add([]byte("VKW"))
	f.Add([]byte("VKW\x01"))
	f.Fuzz(func(t *testing.T, p []byte) {
		b, err := Parse(p)
		if err != nil {
			return
		}
		if b.Node == "" || len(b.Node) > MaxNameLen {
			t.Fatalf("accepted a node name of %d bytes", len(b.Node))
		}
		q, err := b.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed beacon: %v", err)
		}
		again, err := Parse(q)
		if err != nil {
			t.Fatalf("Parse of a marshalled beacon: %v", err)
		}
		if diff := cmp.Diff(b, again); diff != "" {
			t.Fatalf("round trip mismatch (-want +got):\n%s", diff)
		}
	})
}
