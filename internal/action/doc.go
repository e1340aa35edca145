package action

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Metadata is the part of action.yml the docs and tests read.
type Metadata struct {
	Inputs  yaml.Node `yaml:"inputs"`
	Outputs yaml.Node `yaml:"outputs"`
}

// Param is one input or output, in declaration order.
type Param struct {
	Name, Description, Default string
}

// ReadMetadata parses action.yml, keeping the order of inputs and outputs.
func ReadMetadata(path string) (inputs, outputs []Param, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading action metadata: %w", err)
	}
	var m Metadata
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, nil, fmt.Errorf("action metadata %s is not valid YAML: %w", path, err)
	}
	inputs, err = params(&m.Inputs)
	if err != nil {
		return nil, nil, fmt.Errorf("%s inputs: %w", path, err)
	}
	outputs, err = params(&m.Outputs)
	if err != nil {
		return nil, nil, fmt.Errorf("%s outputs: %w", path, err)
	}
	return inputs, outputs, nil
}

func params(n *yaml.Node) ([]Param, error) {
	var out []Param
	for i := 0; i+1 < len(n.Content); i += 2 {
		var p struct {
			Description string `yaml:"description"`
			Default     string `yaml:"default"`
		}
		if err := n.Content[i+1].Decode(&p); err != nil {
			return nil, fmt.Errorf("%s: %w", n.Content[i].Value, err)
		}
		out = append(out, Param{Name: n.Content[i].Value, Description: p.Description, Default: p.Default})
	}
	return out, nil
}

// MarkdownTables renders the inputs and outputs tables of the docs.
func MarkdownTables(inputs, outputs []Param) string {
	var b strings.Builder
	b.WriteString("| Input | Description | Default |\n|---|---|---|\n")
	for _, p := range inputs {
		desc, def := splitDefault(p.Description)
		if p.Default != "" {
			def = "`" + p.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", p.Name, cell(desc), cell(def))
	}
	b.WriteString("\n| Output | Description |\n|---|---|\n")
	for _, p := range outputs {
		fmt.Fprintf(&b, "| `%s` | %s |\n", p.Name, cell(p.Description))
	}
	return b.String()
}

// splitDefault takes "... Default: X." off a description.
func splitDefault(desc string) (string, string) {
	i := strings.LastIndex(desc, "Default: ")
	if i < 0 {
		return desc, ""
	}
	return strings.TrimSpace(desc[:i]), strings.TrimSuffix(strings.TrimSpace(desc[i+len("Default: "):]), ".")
}

func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}
