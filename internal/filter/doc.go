// Package filter implements the AWS X-Ray filter-expression language used by
// GetTraceSummaries, group definitions and (restricted to service(), edge() and
// id()) the EntitySelectorExpression of GetTimeSeriesServiceStatistics.
//
// Grammar (precedence "!" > AND > OR; keywords, AND/OR/NOT, word operators and
// true/false are case-insensitive; annotation keys are case-sensitive):
//
//	filter    = [ or_expr ]                            empty matches every trace
//	or_expr   = and_expr { "OR" and_expr }
//	and_expr  = unary { [ "AND" ] unary }             juxtaposition means AND
//	unary     = ( "!" | "NOT" ) unary | "(" or_expr ")" | predicate
//	predicate = bool_kw [ ("=" | "!=") ("true" | "false") ]
//	          | num_kw ("=" | "!=" | "<" | "<=" | ">" | ">=") number
//	          | str_kw [ ("=" | "!=" | "CONTAINS" | "BEGINSWITH" | "ENDSWITH") string ]
//	          | "annotation." KEY [ op value ]
//	          | "service" "(" [ node_ref ] ")" [ "{" or_expr "}" ]
//	          | "edge" "(" node_ref "," node_ref ")" [ "{" or_expr "}" ]
//	node_ref  = string | "id" "(" id_arg { "," id_arg } ")"
//	id_arg    = ("name" | "type" | "account.id") ":" string
//
// Keywords: boolean ok, error, fault, throttle, partial, inferred (top level and
// service blocks), root (blocks); number responsetime, duration, http.status;
// string http.url, http.method, http.useragent, http.clientip, user,
// availabilityzone, instance.id, resource.arn (top level only), name and type
// (service blocks only). At top level the status, responsetime and http.*
// keywords describe the root segment; inside service(){...} they describe one
// segment of the node and inside edge(){...} one caller-side call. Status
// classes are those of Classify.
//
// Literals: double-quoted strings with \" and \\ escapes; numbers with an
// optional sign, fraction and exponent; true and false.
//
// Evaluation: an absent value makes every comparison false (test absence with
// "!kw"). For multi-valued sources (user, annotations, availabilityzone, ...)
// a comparison is true if any value satisfies it, and != is true if some value
// is present and none equals the literal. Annotation values whose type differs
// from the literal's are treated as absent.
//
// Extensions to what AWS documents:
//   - NOT is accepted as an alias of "!".
//   - After = or != on a string keyword or annotation, a bare identifier is
//     accepted as a string (name = traces).
//   - Parentheses group sub-expressions.
//
// Not supported yet (rejected with a "not supported" SyntaxError rather than
// matching everything): group.name, group.arn, rootcause.* and the keywords
// that only make sense inside root-cause blocks.
//
// Every error is a *SyntaxError naming the 1-based column, the offending token
// and what was expected. A parsed *Expr is immutable and safe for concurrent use.
package filter
