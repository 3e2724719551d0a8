//go:build !custom || drivers.modbusmeter

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgegw/edgegw/drivers"
	"github.com/edgegw/edgegw/drivers/modbusmeter"
	"github.com/edgegw/edgegw/drivers/reading"
)

func init() { optionalCmds = append(optionalCmds, newModbusCmd) }

// lineFlags are the serial flags shared by the modbus subcommands.
type lineFlags struct {
	port     string
	baud     int
	parity   string
	stopBits int
	timeout  time.Duration
	sim      bool
}

// add registers the flags; a scan tries several bauds and parities, so it
// gets its own flags for them and a shorter timeout per probe.
func (l *lineFlags) add(c *cobra.Command, scan bool) {
	c.Flags().StringVar(&l.port, "port", "", "serial port, e.g. /dev/ttyUSB0")
	timeout := 500 * time.Millisecond
	if scan {
		timeout = 200 * time.Millisecond
	} else {
		c.Flags().IntVar(&l.baud, "baud", 9600, "baud rate")
		c.Flags().StringVar(&l.parity, "parity", "N", "parity: N, E or O")
	}
	c.Flags().IntVar(&l.stopBits, "stop-bits", 1, "stop bits: 1 or 2")
	c.Flags().DurationVar(&l.timeout, "timeout", timeout, "reply timeout per request")
	simFlag(c, &l.sim, "start the emulated bus sim:rs485-1 (sdm630 at unit 1, sdm120 at 2, mfm383a at 3, 9600 8N1) and use it")
}

// open resolves the port, starting the emulator for --sim. The returned
// function releases what open started.
func (l *lineFlags) open() (string, func(), error) {
	if l.sim {
		buses := drivers.NewBusSet()
		path, err := buses.Serial("sim:rs485-1")
		if err != nil {
			buses.Close()
			return "", nil, err
		}
		return path, func() { buses.Close() }, nil
	}
	if l.port == "" {
		return "", nil, usageError{errors.New("--port is required (or --sim)")}
	}
	return l.port, func() {}, nil
}

func newModbusCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "modbus",
		Short: "Technician tools for Modbus RTU meters: read, scan a bus, list meter profiles",
	}
	c.AddCommand(newModbusReadCmd(), newModbusScanCmd(), newModbusProfilesCmd())
	return c
}

func newModbusReadCmd() *cobra.Command {
	var (
		l        lineFlags
		unit     int
		profile  string
		asJSON   bool
		register string
		count    int
		typ      string
		order    string
		fc       int
	)
	c := &cobra.Command{
		Use:   "read",
		Short: "Poll one meter once with a profile, or read raw registers (--register)",
		Example: `  edgegw modbus read --port /dev/ttyUSB0 --baud 9600 --parity N --unit 1 --profile sdm630
  edgegw modbus read --port /dev/ttyUSB0 --unit 1 --register 0x0000 --count 2 --type float32 --order ABCD
  edgegw modbus read --sim --unit 3 --profile mfm383a --json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if unit < 1 || unit > 247 {
				return usageError{fmt.Errorf("--unit %d outside 1..247", unit)}
			}
			if (profile == "") == (register == "") {
				return usageError{errors.New("give exactly one of --profile and --register")}
			}
			line := modbusmeter.LineConfig{Baud: l.baud, Parity: strings.ToUpper(l.parity), StopBits: l.stopBits, Timeout: l.timeout}
			var (
				p   *modbusmeter.Profile
				raw *modbusmeter.RawRead
				err error
			)
			if profile != "" {
				if p, err = modbusmeter.LoadProfile(profile); err != nil {
					return usageError{fmt.Errorf("--profile: %w", err)}
				}
			} else {
				addr, err := strconv.ParseUint(register, 0, 16)
				if err != nil {
					return usageError{fmt.Errorf("--register %q: want a number such as 0x0000 or 3027", register)}
				}
				// The errors name the argument at fault, which is the flag's name.
				raw, err = modbusmeter.NewRawRead(modbusmeter.Type(typ), modbusmeter.Order(strings.ToUpper(order)), uint8(fc), uint16(addr), count)
				if err != nil {
					return usageError{fmt.Errorf("--%w", err)}
				}
			}
			path, done, err := l.open()
			if err != nil {
				return err
			}
			defer done()
			bus, err := modbusmeter.OpenBus(path, line)
			if err != nil {
				return usageError{err}
			}
			defer bus.Close()
			if err := bus.Connect(); err != nil {
				return err
			}
			ctx := c.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			if raw != nil {
				return readRaw(ctx, c.OutOrStdout(), bus, uint8(unit), raw, asJSON)
			}
			m, err := modbusmeter.New(bus, &modbusmeter.Opts{Port: path, Unit: uint8(unit), Profile: p, Retries: -1})
			if err != nil {
				return usageError{err}
			}
			rs, err := m.Read(ctx)
			if err != nil {
				return err
			}
			w := c.OutOrStdout()
			if asJSON {
				out := make([]meterValue, len(rs))
				for i, r := range rs {
					out[i] = meterValue{r.Channel, reading.Number(r.Value), string(r.Unit), p.Points[i].Desc}
				}
				return printJSON(w, out)
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "CHANNEL\tVALUE\tRANGE\tDESCRIPTION\n")
			for i, r := range rs {
				pt := p.Points[i]
				note := ""
				if pt.Max > pt.Min && (r.Value < pt.Min || r.Value > pt.Max) {
					note = " (out of range)"
				}
				fmt.Fprintf(tw, "%s\t%s%s\t%g..%g\t%s\n", r.Channel, reading.FormatValue(r.Value, r.Unit), note, pt.Min, pt.Max, pt.Desc)
			}
			s := m.Stats()
			fmt.Fprintf(tw, "\n%d requests, %v on the bus\n", s.Requests, s.LastPoll.Round(time.Millisecond))
			return tw.Flush()
		},
	}
	l.add(c, false)
	c.Flags().IntVar(&unit, "unit", 1, "slave id (1..247)")
	c.Flags().StringVar(&profile, "profile", "", "profile name (see `edgegw modbus profiles`) or YAML file")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().StringVar(&register, "register", "", "raw read: first wire address (zero-based), e.g. 0x0000")
	c.Flags().IntVar(&count, "count", 0, "raw read: registers (default the type's size)")
	c.Flags().StringVar(&typ, "type", "float32", "raw read: uint16, int16, uint32, int32, float32, uint64 or int64")
	c.Flags().StringVar(&order, "order", "ABCD", "raw read: word order ABCD, CDAB, BADC or DCBA")
	c.Flags().IntVar(&fc, "fc", 4, "raw read: function 3 (holding) or 4 (input registers)")
	return c
}

// meterValue is an element of `modbus read --profile --json`.
type meterValue struct {
	Channel string         `json:"channel"`
	Value   reading.Number `json:"value"`
	Unit    string         `json:"unit"`
	Desc    string         `json:"desc"`
}

// rawValue is an element of `modbus read --register --json`: the registers
// of one value, as numbers, and their decoding.
type rawValue struct {
	Addr      int            `json:"addr"`      // wire address of the first register (zero-based)
	Registers []uint16       `json:"registers"` // the registers read, in wire order
	Value     reading.Number `json:"value"`     // decoded with --type and --order
}

// readRaw makes a raw read and prints the registers with their decoding.
func readRaw(ctx context.Context, w io.Writer, bus *modbusmeter.Bus, unit uint8, raw *modbusmeter.RawRead, asJSON bool) error {
	vs, err := raw.Read(ctx, bus, unit)
	if err != nil {
		return err
	}
	if asJSON {
		rows := make([]rawValue, len(vs))
		for i, v := range vs {
			rows[i] = rawValue{int(v.Addr), v.Registers, reading.Number(v.Value)}
		}
		return printJSON(w, rows)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "ADDR\tREGISTERS\t%s %s\n", strings.ToUpper(string(raw.Points[0].Type)), raw.Points[0].Order)
	for _, v := range vs {
		fmt.Fprintf(tw, "0x%04X\t%s\t%s\n", v.Addr, strings.Trim(fmt.Sprintf("%04X", v.Registers), "[]"), reading.FormatValue(v.Value, ""))
	}
	return tw.Flush()
}

func newModbusScanCmd() *cobra.Command {
	var (
		l       lineFlags
		units   string
		bauds   []int
		parity  []string
		profile string
		asJSON  bool
	)
	c := &cobra.Command{
		Use:   "scan",
		Short: "Find which unit ids answer at which serial settings, and (with --profile) which word order they use",
		Example: `  edgegw modbus scan --port /dev/ttyUSB0 --units 1-10 --bauds 9600,19200 --parity N,E
  edgegw modbus scan --sim --units 1-4 --profile sdm630`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ids, err := modbusmeter.ParseUnits(units)
			if err != nil {
				return usageError{fmt.Errorf("--units: %w", err)}
			}
			var p *modbusmeter.Profile
			if profile != "" {
				if p, err = modbusmeter.LoadProfile(profile); err != nil {
					return usageError{fmt.Errorf("--profile: %w", err)}
				}
			}
			path, done, err := l.open()
			if err != nil {
				return err
			}
			defer done()
			ctx := c.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			progress := c.ErrOrStderr()
			hits, probes, err := modbusmeter.Scan(ctx, path, modbusmeter.ScanConfig{
				Units: ids, Bauds: bauds, Parities: parity, StopBits: l.stopBits, Timeout: l.timeout, Profile: p,
				Progress: func(sp modbusmeter.ScanProgress) {
					left := "?"
					if sp.Left >= 0 {
						left = sp.Left.Round(time.Second).String()
					}
					fmt.Fprintf(progress, "\rscanning %s unit %3d  [%d/%d] found %d, %s left ", sp.Line, sp.Unit, sp.Done+1, sp.Total, sp.Found, left)
				},
			})
			fmt.Fprintln(progress)
			if errors.Is(err, modbusmeter.ErrScanConfig) {
				return usageError{err}
			}
			w := c.OutOrStdout()
			total := len(ids) * len(bauds) * len(parity)
			if asJSON {
				if jerr := printJSON(w, scanJSON(path, hits, probes, total)); jerr != nil {
					return jerr
				}
				if len(hits) == 0 && err == nil {
					return errors.New("no unit answered")
				}
			} else if len(hits) == 0 && err == nil {
				fmt.Fprintf(w, "no unit answered on %s\n", path)
				return errors.New("no unit answered")
			}
			if len(hits) > 0 && !asJSON {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintf(tw, "UNIT\tSETTING\tREPLY\tLATENCY\tWORD ORDER\n")
				for _, h := range hits {
					order := "-"
					if len(h.Orders) > 0 {
						order = strings.Join(h.Orders, ", ")
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%s\n", h.Unit, h.Line, h.Reply, h.Latency.Round(time.Millisecond), order)
				}
				if ferr := tw.Flush(); ferr != nil {
					return ferr
				}
			}
			switch {
			case errors.Is(err, context.Canceled):
				return fmt.Errorf("scan interrupted after %d of %d probes, %d units found", probes, total, len(hits))
			case err != nil && probes > 0:
				return fmt.Errorf("scan stopped after %d of %d probes, %d units found: %w", probes, total, len(hits), err)
			}
			return err
		},
	}
	l.add(c, true)
	c.Flags().StringVar(&units, "units", "1-247", "unit ids to probe, e.g. 1-10,20")
	c.Flags().IntSliceVar(&bauds, "bauds", []int{2400, 4800, 9600, 19200}, "baud rates to try")
	c.Flags().StringSliceVar(&parity, "parity", []string{"N", "E"}, "parities to try (N, E, O)")
	c.Flags().StringVar(&profile, "profile", "", "also read a quantity with a known range (frequency, voltage) and report the word order")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON (also what was found when the scan stopped early)")
	return c
}

// scanOutput is the output of `modbus scan --json`.
type scanOutput struct {
	Port   string     `json:"port"`
	Probes int        `json:"probes"` // probes made
	Total  int        `json:"total"`  // probes planned; more than probes when the scan stopped early
	Units  []scanUnit `json:"units"`  // the units that answered, in the order found
}

// scanUnit is one answering unit of `modbus scan --json`.
type scanUnit struct {
	Unit       uint8    `json:"unit"`
	Baud       int      `json:"baud"`
	Parity     string   `json:"parity"`
	StopBits   int      `json:"stop_bits"`
	Reply      string   `json:"reply"`       // "data", or the exception the unit answered
	LatencyMS  float64  `json:"latency_ms"`  // time to the reply
	WordOrders []string `json:"word_orders"` // with --profile: the plausible word orders with the value each gives
}

// scanJSON is the JSON form of a scan's results.
func scanJSON(port string, hits []modbusmeter.Found, probes, total int) scanOutput {
	out := scanOutput{Port: port, Probes: probes, Total: total, Units: []scanUnit{}}
	for _, h := range hits {
		out.Units = append(out.Units, scanUnit{Unit: h.Unit, Baud: h.Line.Baud, Parity: h.Line.Parity, StopBits: h.Line.StopBits,
			Reply: h.Reply, LatencyMS: float64(h.Latency.Microseconds()) / 1000, WordOrders: append([]string{}, h.Orders...)})
	}
	return out
}

func newModbusProfilesCmd() *cobra.Command {
	var dir string
	var asJSON bool
	c := &cobra.Command{
		Use:   "profiles [NAME]",
		Short: "List the shipped meter profiles (and those in --dir), or show one profile's points",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{errors.New("at most one profile name")}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			w := c.OutOrStdout()
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			if len(args) == 1 {
				p, err := modbusmeter.LoadProfile(args[0])
				if err != nil {
					return usageError{err}
				}
				if asJSON {
					return printJSON(w, profileJSON(p))
				}
				fmt.Fprintf(w, "%s: %s %s\nsource: %s\nverified: %s\n\n", p.Name, p.Maker, p.Model, p.Source, p.Verified)
				fmt.Fprintf(tw, "CHANNEL\tFC\tADDR\tTYPE\tORDER\tSCALE\tUNIT\tRANGE\tDESCRIPTION\n")
				for _, pt := range p.Points {
					kind := ""
					if pt.Counter {
						kind = " counter"
					}
					fmt.Fprintf(tw, "%s\t%d\t0x%04X\t%s\t%s\t%g\t%s%s\t%g..%g\t%s\n", pt.Name, pt.FC, pt.Addr, pt.Type, pt.Order, pt.Scale, pt.Unit, kind, pt.Min, pt.Max, pt.Desc)
				}
				return tw.Flush()
			}
			ps, err := modbusmeter.Profiles()
			if err != nil {
				return err
			}
			if dir != "" {
				files, _ := filepath.Glob(filepath.Join(dir, "*.y*ml"))
				for _, f := range files {
					p, err := modbusmeter.LoadProfile(f)
					if err != nil {
						fmt.Fprintf(c.ErrOrStderr(), "skipping %v\n", err)
						continue
					}
					ps = append(ps, p)
				}
			}
			list := make([]profileSummary, len(ps))
			for i, p := range ps {
				plan := modbusmeter.Plan(p, 8, 0)
				list[i] = profileSummary{Name: p.Name, Maker: p.Maker, Model: p.Model, Points: len(p.Points), Requests: len(plan),
					WireMS: math.Round(float64(modbusmeter.Chars(plan, 0)) * 10 / 9.6), Shipped: p.Embedded}
				if !p.Embedded {
					list[i].File = p.File
				}
			}
			if asJSON {
				return printJSON(w, list)
			}
			fmt.Fprintf(tw, "NAME\tMAKER\tMODEL\tPOINTS\tREQ/POLL\tWIRE@9600 8N1\tFILE\n")
			for _, p := range list {
				file := "(shipped)"
				if !p.Shipped {
					file = p.File
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.0f ms\t%s\n", p.Name, p.Maker, p.Model, p.Points, p.Requests, p.WireMS, file)
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "also list the profile files (*.yaml) in this directory")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON: the list, or the profile NAME with its points")
	return c
}

// profileSummary is an element of `modbus profiles --json`.
type profileSummary struct {
	Name     string  `json:"name"`
	Maker    string  `json:"maker"`
	Model    string  `json:"model"`
	Points   int     `json:"points"`
	Requests int     `json:"requests_per_poll"` // Modbus requests one poll makes
	WireMS   float64 `json:"wire_ms_9600"`      // time on the wire per poll at 9600 8N1, ms
	Shipped  bool    `json:"shipped"`           // embedded in the binary
	File     string  `json:"file,omitempty"`    // the file, for a profile from --dir
}

// profileDetail is the output of `modbus profiles NAME --json`.
type profileDetail struct {
	Name     string         `json:"name"`
	Maker    string         `json:"maker"`
	Model    string         `json:"model"`
	Source   string         `json:"source"`
	Verified string         `json:"verified"`
	Points   []profilePoint `json:"points"`
}

// profilePoint is a point of profileDetail.
type profilePoint struct {
	Channel string  `json:"channel"`
	FC      uint8   `json:"fc"`
	Addr    uint16  `json:"addr"` // wire address, zero-based
	Type    string  `json:"type"`
	Order   string  `json:"order"`
	Scale   float64 `json:"scale"`
	Unit    string  `json:"unit"`
	Counter bool    `json:"counter"`
	Min     float64 `json:"min"`
	Max     float64 `json:"max"`
	Desc    string  `json:"desc"`
}

// profileJSON is the JSON form of a profile.
func profileJSON(p *modbusmeter.Profile) profileDetail {
	out := profileDetail{Name: p.Name, Maker: p.Maker, Model: p.Model, Source: p.Source, Verified: p.Verified, Points: []profilePoint{}}
	for _, pt := range p.Points {
		out.Points = append(out.Points, profilePoint{Channel: pt.Name, FC: pt.FC, Addr: pt.Addr, Type: string(pt.Type), Order: string(pt.Order),
			Scale: pt.Scale, Unit: string(pt.Unit), Counter: pt.Counter, Min: pt.Min, Max: pt.Max, Desc: pt.Desc})
	}
	return out
}
