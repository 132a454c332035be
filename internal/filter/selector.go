package filter

// SelectorKind says whether a Selector picks a node or an edge.
type SelectorKind int

// Kinds of Selector.
const (
	SelectService SelectorKind = iota
	SelectEdge
)

// Selector is a parsed EntitySelectorExpression of
// GetTimeSeriesServiceStatistics: service("n"), service(id(...)) or edge(a, b).
type Selector struct {
	Kind     SelectorKind
	Service  NodeRef // SelectService
	From, To NodeRef // SelectEdge
}

// ParseEntitySelector parses an entity selector expression. It accepts exactly
// one service(...) or edge(...) without a block. Errors are *SyntaxError.
func ParseEntitySelector(src string) (*Selector, error) {
	p, err := newParser(src)
	if err != nil {
		return nil, err
	}
	t := p.peek()
	var sel *Selector
	switch {
	case isWord(t, "service"):
		p.next()
		if _, err := p.expect(tLParen, "(", `after "`+t.text+`"`); err != nil {
			return nil, err
		}
		if p.peek().kind == tRParen {
			return nil, p.unexpected(p.peek(), `a service name in double quotes or id(...)`)
		}
		ref, err := p.parseNodeRef()
		if err != nil {
			return nil, err
		}
		sel = &Selector{Kind: SelectService, Service: ref}
	case isWord(t, "edge"):
		p.next()
		if _, err := p.expect(tLParen, "(", `after "`+t.text+`"`); err != nil {
			return nil, err
		}
		sel = &Selector{Kind: SelectEdge}
		if sel.From, err = p.parseNodeRef(); err != nil {
			return nil, err
		}
		if _, err := p.expect(tComma, ",", "between the two services of edge()"); err != nil {
			return nil, err
		}
		if sel.To, err = p.parseNodeRef(); err != nil {
			return nil, err
		}
	default:
		return nil, p.unexpected(t, `service(...) or edge(...)`)
	}
	if _, err := p.expect(tRParen, ")", "to close the selector"); err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, "end of expression (an entity selector names one service or edge, without a block)")
	}
	return sel, nil
}

// MatchesNode reports whether a service selector selects the node; edge
// selectors select no node.
func (s *Selector) MatchesNode(n Node) bool {
	return s.Kind == SelectService && s.Service.Matches(n)
}

// MatchesEdge reports whether an edge selector selects the from -> to edge;
// service selectors select no edge.
func (s *Selector) MatchesEdge(from, to Node) bool {
	return s.Kind == SelectEdge && s.From.Matches(from) && s.To.Matches(to)
}
