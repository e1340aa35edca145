package config

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// Option describes one configurable setting.
type Option struct {
	Name   string // kebab-case: flag, input and YAML key
	Help   string
	Secret bool // masked in logs, never printed
	Kind   reflect.Kind
	index  int
}

// EnvName is the environment twin of the option.
func (o Option) EnvName() string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(o.Name, "-", "_"))
}

var options = func() []Option {
	t := reflect.TypeOf(Config{})
	var out []Option
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("opt")
		if name == "" {
			continue
		}
		out = append(out, Option{Name: name, Help: f.Tag.Get("help"), Secret: f.Tag.Get("secret") == "true", Kind: f.Type.Kind(), index: i})
	}
	return out
}()

// Options lists every option in declaration order.
func Options() []Option { return append([]Option(nil), options...) }

// Lookup finds an option by name.
func Lookup(name string) (Option, bool) {
	for _, o := range options {
		if o.Name == name {
			return o, true
		}
	}
	return Option{}, false
}

// Set parses value strictly for the named option. Errors name the option
// and say what is accepted; source says where the value came from
// ("flag", "input", "MODEL_RELEASE_EPOCHS", a file name).
func (c *Config) Set(name, value, source string) error {
	o, ok := Lookup(name)
	if !ok {
		return fmt.Errorf("%s: unknown option %q", source, name)
	}
	f := reflect.ValueOf(c).Elem().Field(o.index)
	v := strings.TrimSpace(value)
	shown := fmt.Sprintf("%q", value)
	if o.Secret {
		shown = "(hidden)"
	}
	switch o.Kind {
	case reflect.String:
		f.SetString(v)
	case reflect.Bool:
		switch v {
		case "true":
			f.SetBool(true)
		case "false":
			f.SetBool(false)
		default:
			return fmt.Errorf("%s %q: %s is not true or false", source, name, shown)
		}
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%s %q: %s is not a whole number", source, name, shown)
		}
		f.SetInt(n)
	case reflect.Float64:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%s %q: %s is not a number", source, name, shown)
		}
		f.SetFloat(x)
	default:
		return fmt.Errorf("option %q has unsupported kind %s", name, o.Kind)
	}
	return nil
}

// Get returns the option's current value as a string (secrets included:
// callers must not log it).
func (c *Config) Get(name string) string {
	o, ok := Lookup(name)
	if !ok {
		return ""
	}
	return fmt.Sprint(reflect.ValueOf(c).Elem().Field(o.index).Interface())
}

// ApplyEnv sets every option whose MODEL_RELEASE_* twin is present.
func (c *Config) ApplyEnv(lookupEnv func(string) (string, bool)) error {
	var errs []string
	for _, o := range options {
		if v, ok := lookupEnv(o.EnvName()); ok {
			if err := c.Set(o.Name, v, o.EnvName()); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	return joinLines(errs)
}

// ApplyFile reads a YAML file of option: value pairs. A missing file is an
// error only when required is true (it was named explicitly).
func (c *Config) ApplyFile(path string, required bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) && !required {
			return nil
		}
		return fmt.Errorf("reading config file: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("config file %s is not valid YAML: %w", path, err)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []string
	for _, k := range keys {
		o, ok := Lookup(k)
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: unknown option %q", path, k))
			continue
		}
		if o.Secret {
			errs = append(errs, fmt.Sprintf("%s: %q is a secret and may not be stored in a file; use %s", path, k, o.EnvName()))
			continue
		}
		if err := c.Set(k, fmt.Sprint(raw[k]), path); err != nil {
			errs = append(errs, err.Error())
		}
	}
	return joinLines(errs)
}

func joinLines(errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(errs, "\n"))
}

// Flags records the options given on a command line without touching a
// Config, so that Load can apply them last (flags beat file and env).
type Flags struct {
	set map[string]string
}

// Bind registers --name flags for the given options on fs. Defaults shown in
// help come from Default().
func (fl *Flags) Bind(fs *pflag.FlagSet, names ...string) {
	if fl.set == nil {
		fl.set = map[string]string{}
	}
	def := Default()
	for _, n := range names {
		o, ok := Lookup(n)
		if !ok {
			panic("config: binding unknown option " + n) // programming error, caught by tests
		}
		if fs.Lookup(n) != nil {
			continue
		}
		fv := &flagValue{name: n, set: fl.set, def: def.Get(n), kind: o.Kind}
		f := fs.VarPF(fv, n, "", o.Help)
		if o.Kind == reflect.Bool {
			f.NoOptDefVal = "true"
		}
		if o.Secret {
			f.DefValue = ""
		}
	}
}

// Load builds the effective Config: defaults, then the YAML file (--config,
// MODEL_RELEASE_CONFIG, or DefaultFile when present), then the environment,
// then the flags, then Validate.
func (fl *Flags) Load(lookupEnv func(string) (string, bool)) (Config, error) {
	c := Default()
	file, required := DefaultFile, false
	if v, ok := lookupEnv(EnvPrefix + "CONFIG"); ok && v != "" {
		file, required = v, true
	}
	if v, ok := fl.set["config"]; ok && v != "" {
		file, required = v, true
	}
	if err := c.ApplyFile(file, required); err != nil {
		return c, err
	}
	if err := c.ApplyEnv(lookupEnv); err != nil {
		return c, err
	}
	if err := fl.apply(&c, "flag"); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func (fl *Flags) apply(c *Config, source string) error {
	names := make([]string, 0, len(fl.set))
	for k := range fl.set {
		names = append(names, k)
	}
	sort.Strings(names)
	var errs []string
	for _, n := range names {
		if err := c.Set(n, fl.set[n], source); err != nil {
			errs = append(errs, err.Error())
		}
	}
	return joinLines(errs)
}

type flagValue struct {
	name, def string
	kind      reflect.Kind
	set       map[string]string
}

func (f *flagValue) String() string {
	if v, ok := f.set[f.name]; ok {
		return v
	}
	return f.def
}
func (f *flagValue) Set(s string) error {
	// Parse now so pflag reports the bad value at once, with the flag name.
	var probe Config
	if err := probe.Set(f.name, s, "flag"); err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "flag "))
	}
	f.set[f.name] = s
	return nil
}
func (f *flagValue) Type() string {
	switch f.kind {
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int64:
		return "int"
	case reflect.Float64:
		return "float"
	}
	return "string"
}
func (f *flagValue) IsBoolFlag() bool { return f.kind == reflect.Bool }
