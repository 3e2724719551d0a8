package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/reading"
)

// printJSON writes v as one indented JSON document: the output of a
// command's --json. The field names are part of the command's interface
// (docs/operations.md, "Output for scripts").
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printJSONLine writes v as one line of JSON: an element of a stream
// (newline-delimited JSON), as `watch --json` and `sensor read --json` print.
func printJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// printReadingTable prints readings as a table of channel, value with its
// unit (reading.FormatValue), quality flags and, when withTime, the time.
func printReadingTable(w io.Writer, rs []reading.Reading, withTime bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	header := "CHANNEL\tVALUE\tFLAGS"
	if withTime {
		header += "\tTIME"
	}
	fmt.Fprintln(tw, header)
	for _, r := range rs {
		v := "?"
		if r.Flags&reading.ReadError == 0 {
			v = reading.FormatValue(r.Value, r.Unit)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s", r.Channel, v, strings.Join(r.Flags.Names(), ","))
		if withTime {
			fmt.Fprintf(tw, "\t%s", r.Time.Local().Format(time.DateTime))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// channelHelp lists, for help texts, the channels of each driver kind this
// binary links, from the driver registry.
func channelHelp() string {
	var b strings.Builder
	b.WriteString("Channels by driver (those of this binary):\n\n")
	var named []string
	for _, kind := range drivers.Kinds() {
		chans := drivers.Channels(kind)
		if len(chans) == 0 {
			named = append(named, kind)
			continue
		}
		var names []string
		for _, ch := range chans {
			names = append(names, fmt.Sprintf("%s (%s)", ch.Name, unitName(ch.Unit)))
		}
		fmt.Fprintf(&b, "  %-12s %s\n", kind, strings.Join(names, ", "))
	}
	if len(named) > 0 {
		fmt.Fprintf(&b, "  %s: channels named by the device's\n  configuration: its inputs, its meter profile's points (edgegw modbus\n  profiles NAME) or its simulated model's.\n", strings.Join(named, ", "))
	}
	return b.String()
}

// unitName is a unit's symbol for a help text, "ratio" for the unitless.
func unitName(u reading.Unit) string {
	if s := u.Symbol(); s != "" {
		return s
	}
	return "ratio"
}
