package awserrcodes

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/format"
	"go/token"
	"go/types"
	"maps"
	"reflect"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/types/typeutil"
)

// Config says which service to scan.
type Config struct {
	// Dir is where go list runs: the module or a directory in it.
	// Defaults to the current directory.
	Dir string
	// BuildFlags go to go list, which builds the export data of the
	// packages' other dependencies: a test built with -race passes -race,
	// so that the build cache of its own build serves them instead of a
	// second build of every dependency.
	BuildFlags []string
	// Packages are the import paths of one service's emulator. Their code,
	// and the code of the packages of the same module they import, is
	// scanned; nothing else is.
	Packages []string
	// Sinks are more fields whose values go on the service's wire as error
	// codes, as "importpath.Type.Field" (a shared renderer's error type,
	// such as internal/awsxml's Error.Code). In Packages, every string
	// field named Code or __type or tagged so for xml or json is a sink
	// already, and so are the X-Amzn-ErrorType and x-amzn-query-error
	// headers and the Code and __type keys of map literals.
	Sinks []string
}

// Site is one error code and where the scanned code writes it.
type Site struct {
	Code string
	Pos  token.Position
}

// Unresolved is a value that reaches a sink but is not a constant the scan
// can follow back to: a code computed at run time, read from a map or
// from outside the scanned packages.
type Unresolved struct {
	Func string // the enclosing function, as pkg.Func or pkg.Type.Method
	Expr string // the expression, as written
	Pos  token.Position
}

func (u Unresolved) String() string { return fmt.Sprintf("%s: %s: %s", u.Pos, u.Func, u.Expr) }

// Result is what a scan found.
type Result struct {
	Sites      []Site // sorted by code, then position
	Unresolved []Unresolved
	Sinks      []string // every sink field, as "importpath.Type.Field"
}

// Codes is the set of codes in r.Sites, sorted.
func (r *Result) Codes() []string {
	var out []string
	for _, s := range r.Sites {
		if len(out) == 0 || out[len(out)-1] != s.Code {
			out = append(out, s.Code)
		}
	}
	return out
}

// Scan finds every error code the packages of cfg can write into a sink: it
// follows each value stored into a sink field back through assignments,
// struct literals, function parameters and results to the string constants
// it comes from. Whatever it cannot follow (a map element, a call into
// code it does not scan, a function used as a value, a call through an
// interface) it reports as Unresolved rather than dropping it, so a test
// can fail on it. It does not see a code written as raw text (an XML
// string with the code inside) or stored through reflection.
func Scan(ctx context.Context, cfg Config) (*Result, error) {
	if len(cfg.Packages) == 0 {
		return nil, errors.New("awserrcodes: Config.Packages is empty")
	}
	pkgs, roots, err := load(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return scan(pkgs, roots, cfg)
}

// Program is the packages of one load, type-checked together: several
// scans of services that share code (internal/awsxml, awsauth, awsiam)
// share it, so their packages are listed and type-checked once.
type Program struct {
	pkgs   map[string]*packages.Package // the module's packages, by import path
	loaded map[string]bool              // the import paths Load was given
}

// Load type-checks the packages named by cfg.Packages (import paths) and
// the packages of their module that they import, for Program.Scan;
// cfg.Sinks is not used.
func Load(ctx context.Context, cfg Config) (*Program, error) {
	if len(cfg.Packages) == 0 {
		return nil, errors.New("awserrcodes: Config.Packages is empty")
	}
	pkgs, roots, err := load(ctx, cfg)
	if err != nil {
		return nil, err
	}
	prog := &Program{pkgs: map[string]*packages.Package{}, loaded: map[string]bool{}}
	for _, p := range pkgs {
		prog.pkgs[p.PkgPath] = p
	}
	for _, r := range roots {
		prog.loaded[r] = true
	}
	return prog, nil
}

// Scan is the package-level Scan of cfg.Packages, import paths that Load
// was given, on the program's packages: it scans them and the module's
// packages they import, as Scan would; cfg.Dir and cfg.BuildFlags are not
// used.
func (prog *Program) Scan(cfg Config) (*Result, error) {
	if len(cfg.Packages) == 0 {
		return nil, errors.New("awserrcodes: Config.Packages is empty")
	}
	seen := map[string]bool{}
	var pkgs []*packages.Package
	var visit func(path string)
	visit = func(path string) {
		p, ok := prog.pkgs[path]
		if !ok || seen[path] {
			return
		}
		seen[path] = true
		pkgs = append(pkgs, p)
		for imp := range p.Imports {
			visit(imp)
		}
	}
	for _, r := range cfg.Packages {
		if !prog.loaded[r] {
			return nil, fmt.Errorf("awserrcodes: %s was not loaded (Load's packages: %v)", r, slices.Sorted(maps.Keys(prog.loaded)))
		}
		visit(r)
	}
	slices.SortFunc(pkgs, func(a, b *packages.Package) int { return strings.Compare(a.PkgPath, b.PkgPath) })
	return scan(pkgs, cfg.Packages, cfg)
}

// scan finds the codes of pkgs, the scanned packages, whose roots are the
// service's own.
func scan(pkgs []*packages.Package, roots []string, cfg Config) (*Result, error) {
	own := map[string]bool{}
	for _, p := range roots {
		own[p] = true
	}
	s := newScanner(pkgs, own)
	for _, p := range pkgs {
		for _, f := range p.Syntax {
			s.walkFile(p, f)
		}
	}
	var sinks []*types.Var
	for _, p := range pkgs {
		for _, v := range codeFields(p) {
			if own[p.PkgPath] || slices.Contains(cfg.Sinks, fieldName(v)) {
				sinks = append(sinks, v)
			}
		}
	}
	if len(s.flows[s.wire]) > 0 {
		sinks = append(sinks, s.wire)
	}
	res := &Result{}
	for _, v := range sinks {
		res.Sinks = append(res.Sinks, fieldName(v))
	}
	for _, want := range cfg.Sinks {
		if !slices.Contains(res.Sinks, want) {
			return nil, fmt.Errorf("awserrcodes: sink %s: no string field of that name in %v or the packages they import", want, cfg.Packages)
		}
	}
	s.solve(sinks, res)
	slices.SortFunc(res.Sites, func(a, b Site) int {
		if c := strings.Compare(a.Code, b.Code); c != 0 {
			return c
		}
		return comparePos(a.Pos, b.Pos)
	})
	slices.SortFunc(res.Unresolved, func(a, b Unresolved) int { return comparePos(a.Pos, b.Pos) })
	slices.Sort(res.Sinks)
	return res, nil
}

// load type-checks cfg.Packages and the packages of their module that they
// import, from source, in one go so that they share their types. It also
// returns the import paths cfg.Packages name.
func load(ctx context.Context, cfg Config) (pkgs []*packages.Package, roots []string, err error) {
	deps, err := packages.Load(&packages.Config{Context: ctx, Dir: cfg.Dir, BuildFlags: cfg.BuildFlags,
		Mode: packages.NeedName | packages.NeedImports | packages.NeedDeps | packages.NeedModule}, cfg.Packages...)
	if err != nil {
		return nil, nil, fmt.Errorf("awserrcodes: list %v: %w", cfg.Packages, err)
	}
	for _, p := range deps {
		roots = append(roots, p.PkgPath)
	}
	var paths []string
	var errs []error
	packages.Visit(deps, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			errs = append(errs, e)
		}
		if p.Module != nil && deps[0].Module != nil && p.Module.Path == deps[0].Module.Path {
			paths = append(paths, p.PkgPath)
		}
	})
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("awserrcodes: list %v: %w", cfg.Packages, errors.Join(errs...))
	}
	if deps[0].Module == nil {
		return nil, nil, fmt.Errorf("awserrcodes: %s is in no module", deps[0].PkgPath)
	}
	pkgs, err = packages.Load(&packages.Config{Context: ctx, Dir: cfg.Dir, BuildFlags: cfg.BuildFlags,
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo | packages.NeedImports}, paths...)
	if err != nil {
		return nil, nil, fmt.Errorf("awserrcodes: load %v: %w", paths, err)
	}
	for _, p := range pkgs {
		for _, e := range p.Errors {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("awserrcodes: load %v: %w", paths, errors.Join(errs...))
	}
	return pkgs, roots, nil
}

// codeNames are the names an error code goes by on AWS's wires: the Code
// element of XML errors and of the IMDS JSON, the __type of JSON errors.
// The lab's admin APIs answer {"code": ...}; that is no cloud's wire.
var codeNames = []string{"Code", "__type"}

// codeFields are the string fields of p's struct types, named or not,
// package-level or local, whose name or xml/json tag is one of codeNames.
func codeFields(p *packages.Package) []*types.Var {
	seen := map[*types.Var]bool{}
	var out []*types.Var
	visit := func(t types.Type) {
		if ptr, ok := t.(*types.Pointer); ok {
			t = ptr.Elem()
		}
		st, ok := t.Underlying().(*types.Struct)
		if !ok {
			return
		}
		for i := range st.NumFields() {
			f := st.Field(i)
			if seen[f] || !isString(f.Type()) || f.Pkg() != p.Types {
				continue
			}
			tag := reflect.StructTag(st.Tag(i))
			xmlName, _, _ := strings.Cut(tag.Get("xml"), ",")
			jsonName, _, _ := strings.Cut(tag.Get("json"), ",")
			if slices.Contains(codeNames, f.Name()) || slices.Contains(codeNames, xmlName) || slices.Contains(codeNames, jsonName) {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	for _, obj := range p.TypesInfo.Defs {
		if tn, ok := obj.(*types.TypeName); ok {
			visit(tn.Type())
		}
	}
	for _, tv := range p.TypesInfo.Types {
		visit(tv.Type)
	}
	slices.SortFunc(out, func(a, b *types.Var) int { return int(a.Pos() - b.Pos()) })
	return out
}

func isString(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&types.IsString != 0
}

// fieldName spells a struct field as "importpath.Type.Field" by looking its
// struct up among the package's named types; a field of a local or
// anonymous struct is "importpath.(struct).Field".
func fieldName(v *types.Var) string {
	p := v.Pkg()
	if p == nil {
		return v.Name()
	}
	for _, name := range p.Scope().Names() {
		tn, ok := p.Scope().Lookup(name).(*types.TypeName)
		if !ok {
			continue
		}
		if st, ok := tn.Type().Underlying().(*types.Struct); ok {
			for f := range st.Fields() {
				if f == v {
					return p.Path() + "." + name + "." + v.Name()
				}
			}
		}
	}
	return p.Path() + ".(struct)." + v.Name()
}

func comparePos(a, b token.Position) int {
	if c := strings.Compare(a.Filename, b.Filename); c != 0 {
		return c
	}
	return a.Line - b.Line
}

// flow is one value stored into a variable (a field, parameter, result or
// local): either an expression or another variable.
type flow struct {
	to   *types.Var
	expr ast.Expr   // the value, nil when from is set
	from *types.Var // a callee's result, when expr is nil
	// callee is the declared function whose result from is; nil for a
	// function literal's.
	callee *types.Func
	// opaque marks a value the scan cannot see into: an element of a
	// range, an op-assignment, a comma-ok form.
	opaque bool
	pkg    *packages.Package
	fn     string
	pos    token.Pos
}

type scanner struct {
	own  map[string]bool // the service's packages, by import path
	pkgs map[*types.Package]*packages.Package
	// wire stands for the ways a code reaches the wire without a struct
	// field in the service's packages: an X-Amzn-ErrorType or
	// x-amzn-query-error header, a map literal's Code or __type key.
	wire   *types.Var
	flows  map[*types.Var][]flow
	bodies map[*types.Func]bool // functions whose body was walked
	// lits are function literals bound to a variable, by variable: a call
	// through that variable reaches the literal's parameters.
	lits map[*types.Var]*types.Signature
	// valueUses are uses of a function, or of a variable bound to a
	// literal, other than calling it: the scan cannot see the calls those
	// values get.
	valueUses map[types.Object][]Unresolved
	litOwner  map[*types.Var]*types.Signature // parameter -> literal signature
	funcOwner map[*types.Var]*types.Func      // parameter -> declared function
	// dynamic are calls of interface methods, by method name: a method of
	// that name may be the one called.
	dynamic map[string][]Unresolved
}

func newScanner(pkgs []*packages.Package, own map[string]bool) *scanner {
	s := &scanner{own: own, wire: types.NewVar(token.NoPos, nil, "(X-Amzn-ErrorType header or map key Code)", types.Typ[types.String]),
		pkgs: map[*types.Package]*packages.Package{}, flows: map[*types.Var][]flow{},
		bodies: map[*types.Func]bool{}, lits: map[*types.Var]*types.Signature{},
		valueUses: map[types.Object][]Unresolved{}, litOwner: map[*types.Var]*types.Signature{},
		funcOwner: map[*types.Var]*types.Func{}, dynamic: map[string][]Unresolved{}}
	for _, p := range pkgs {
		s.pkgs[p.Types] = p
	}
	return s
}

// walkFile records every flow in f.
func (s *scanner) walkFile(p *packages.Package, f *ast.File) {
	info := p.TypesInfo
	var stack []ast.Node // enclosing *ast.FuncDecl and *ast.FuncLit
	fnName := p.Name     // package-level code is named by its package
	callFuns := map[ast.Expr]bool{}
	add := func(to *types.Var, e ast.Expr, opaque bool) {
		if to == nil {
			return
		}
		s.flows[to] = append(s.flows[to], flow{to: to, expr: e, opaque: opaque, pkg: p, fn: fnName})
	}
	addVar := func(to, from *types.Var, callee *types.Func, pos token.Pos) {
		if to == nil || from == nil {
			return
		}
		s.flows[to] = append(s.flows[to], flow{to: to, from: from, callee: callee, pkg: p, fn: fnName, pos: pos})
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			if _, ok := stack[len(stack)-1].(*ast.FuncDecl); ok {
				fnName = p.Name
			}
			stack = stack[:len(stack)-1]
			return true
		}
		switch n := n.(type) {
		case *ast.FuncDecl:
			stack = append(stack, n)
			fnName = p.Name + "." + n.Name.Name
			if n.Recv != nil && len(n.Recv.List) > 0 {
				fnName = p.Name + "." + recvName(n.Recv.List[0].Type) + "." + n.Name.Name
			}
			if fn, ok := info.Defs[n.Name].(*types.Func); ok {
				if n.Body != nil {
					s.bodies[fn] = true
				}
				sig := fn.Type().(*types.Signature)
				for v := range sig.Params().Variables() {
					s.funcOwner[v] = fn
				}
			}
			return true
		case *ast.FuncLit:
			stack = append(stack, n)
			if sig, ok := info.Types[n].Type.(*types.Signature); ok {
				for v := range sig.Params().Variables() {
					s.litOwner[v] = sig
				}
			}
			return true
		}
		stack = append(stack, nil) // keep push and pop paired
		switch n := n.(type) {
		case *ast.AssignStmt:
			s.assign(info, n.Lhs, n.Rhs, n.Tok, add, addVar)
		case *ast.ValueSpec:
			lhs := make([]ast.Expr, len(n.Names))
			for i, id := range n.Names {
				lhs[i] = id
			}
			s.assign(info, lhs, n.Values, token.DEFINE, add, addVar)
		case *ast.RangeStmt:
			for _, e := range []ast.Expr{n.Key, n.Value} {
				if e != nil {
					add(varOf(info, e), n.X, true)
				}
			}
		case *ast.CompositeLit:
			if _, ok := info.TypeOf(n).Underlying().(*types.Map); ok && s.own[p.PkgPath] {
				for _, el := range n.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok && slices.Contains(codeNames, constString(info, kv.Key)) {
						add(s.wire, kv.Value, false)
					}
				}
				return true
			}
			st, ok := info.TypeOf(n).Underlying().(*types.Struct)
			if !ok {
				return true
			}
			for i, el := range n.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if id, ok := kv.Key.(*ast.Ident); ok {
						add(fieldByName(st, id.Name), kv.Value, false)
					}
				} else if i < st.NumFields() {
					add(st.Field(i), el, false)
				}
			}
		case *ast.CallExpr:
			callFuns[ast.Unparen(n.Fun)] = true
			if s.own[p.PkgPath] && isHeaderSet(info, n) && len(n.Args) == 2 {
				switch strings.ToLower(constString(info, n.Args[0])) {
				case "x-amzn-errortype", "x-amzn-query-error":
					add(s.wire, n.Args[1], false)
				}
			}
			if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok {
				if selection, ok := info.Selections[sel]; ok && types.IsInterface(selection.Recv()) {
					s.dynamic[sel.Sel.Name] = append(s.dynamic[sel.Sel.Name],
						Unresolved{Func: fnName, Expr: exprString(p.Fset, n), Pos: p.Fset.Position(n.Pos())})
				}
			}
			params := s.params(info, n)
			if params == nil {
				return true
			}
			for i, a := range n.Args {
				switch {
				case i < params.Len()-1 || (i < params.Len() && !isVariadic(info, n)):
					add(params.At(i), a, false)
				case params.Len() > 0:
					add(params.At(params.Len()-1), a, true)
				}
			}
		case *ast.ReturnStmt:
			sig := enclosingSig(info, stack)
			if sig == nil || sig.Results().Len() == 0 {
				return true
			}
			if len(n.Results) == sig.Results().Len() {
				for i, e := range n.Results {
					add(sig.Results().At(i), e, false)
				}
			} else if len(n.Results) == 1 {
				if res, callee := s.results(info, n.Results[0]); res != nil {
					for i := 0; i < res.Len() && i < sig.Results().Len(); i++ {
						addVar(sig.Results().At(i), res.At(i), callee, n.Pos())
					}
				} else {
					for v := range sig.Results().Variables() {
						add(v, n.Results[0], true)
					}
				}
			}
		case *ast.Ident:
			switch obj := info.Uses[n].(type) {
			case *types.Func:
				if !callFuns[n] {
					s.valueUses[obj] = append(s.valueUses[obj], Unresolved{Func: fnName, Expr: n.Name, Pos: p.Fset.Position(n.Pos())})
				}
			case *types.Var:
				if _, bound := s.lits[obj]; bound && !callFuns[n] {
					s.valueUses[obj] = append(s.valueUses[obj], Unresolved{Func: fnName, Expr: n.Name, Pos: p.Fset.Position(n.Pos())})
				}
			}
		case *ast.SelectorExpr:
			// A method or function named through a selector is called when
			// the selector is a call's Fun; mark the Sel so the Ident case
			// sees it as called.
			if callFuns[n] {
				callFuns[n.Sel] = true
			}
		}
		return true
	})
}

// assign records lhs = rhs (and :=, var): pairwise, or from the results of
// a call on the right.
func (s *scanner) assign(info *types.Info, lhs, rhs []ast.Expr, tok token.Token,
	add func(*types.Var, ast.Expr, bool), addVar func(to, from *types.Var, callee *types.Func, pos token.Pos)) {
	opaque := tok != token.ASSIGN && tok != token.DEFINE
	if len(lhs) == len(rhs) {
		for i := range lhs {
			to := varOf(info, lhs[i])
			add(to, rhs[i], opaque)
			if lit, ok := ast.Unparen(rhs[i]).(*ast.FuncLit); ok && to != nil {
				if sig, ok := info.Types[lit].Type.(*types.Signature); ok {
					s.lits[to] = sig
				}
			}
		}
		return
	}
	if len(rhs) != 1 {
		return
	}
	if res, callee := s.results(info, rhs[0]); res != nil {
		for i := range lhs {
			if i < res.Len() {
				addVar(varOf(info, lhs[i]), res.At(i), callee, rhs[0].Pos())
			}
		}
		return
	}
	for _, l := range lhs {
		add(varOf(info, l), rhs[0], true) // comma-ok forms
	}
}

// params are the parameters a call reaches: a declared function's or
// method's, or a literal's bound to the called variable; nil when the
// callee is not known statically (an interface method, a func value).
func (s *scanner) params(info *types.Info, call *ast.CallExpr) *types.Tuple {
	if fn := typeutil.StaticCallee(info, call); fn != nil {
		return fn.Origin().Type().(*types.Signature).Params()
	}
	if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok {
		if v, ok := info.Uses[id].(*types.Var); ok {
			if sig := s.lits[v]; sig != nil {
				return sig.Params()
			}
		}
	}
	return nil
}

// results are the result variables of the function e calls, if e is a
// call whose callee is known statically, and that callee when it is a
// declared function.
func (s *scanner) results(info *types.Info, e ast.Expr) (*types.Tuple, *types.Func) {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok {
		return nil, nil
	}
	if tv, ok := info.Types[call.Fun]; ok && tv.IsType() {
		return nil, nil // a conversion
	}
	if fn := typeutil.StaticCallee(info, call); fn != nil {
		return fn.Origin().Type().(*types.Signature).Results(), fn.Origin()
	}
	if id, ok := ast.Unparen(call.Fun).(*ast.Ident); ok {
		if v, ok := info.Uses[id].(*types.Var); ok {
			if sig := s.lits[v]; sig != nil {
				return sig.Results(), nil
			}
		}
	}
	return nil, nil
}

// isHeaderSet reports whether call is net/http's Header.Set or Header.Add.
func isHeaderSet(info *types.Info, call *ast.CallExpr) bool {
	fn := typeutil.StaticCallee(info, call)
	return fn != nil && (fn.FullName() == "(net/http.Header).Set" || fn.FullName() == "(net/http.Header).Add")
}

// constString is e's value if e is a string constant, else "".
func constString(info *types.Info, e ast.Expr) string {
	if tv, ok := info.Types[e]; ok && tv.Value != nil && tv.Value.Kind() == constant.String {
		return constant.StringVal(tv.Value)
	}
	return ""
}

func isVariadic(info *types.Info, call *ast.CallExpr) bool {
	sig, ok := info.TypeOf(call.Fun).Underlying().(*types.Signature)
	return ok && sig.Variadic() && !call.Ellipsis.IsValid()
}

func enclosingSig(info *types.Info, stack []ast.Node) *types.Signature {
	for i := len(stack) - 1; i >= 0; i-- {
		switch n := stack[i].(type) {
		case *ast.FuncDecl:
			if fn, ok := info.Defs[n.Name].(*types.Func); ok {
				return fn.Type().(*types.Signature)
			}
			return nil
		case *ast.FuncLit:
			sig, _ := info.Types[n].Type.(*types.Signature)
			return sig
		}
	}
	return nil
}

// varOf is the variable an assignable expression names: an identifier's
// object or a selector's field; nil for _, map elements and the like.
func varOf(info *types.Info, e ast.Expr) *types.Var {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		v, _ := info.ObjectOf(e).(*types.Var)
		return v
	case *ast.SelectorExpr:
		if sel, ok := info.Selections[e]; ok {
			v, _ := sel.Obj().(*types.Var)
			return v
		}
		v, _ := info.Uses[e.Sel].(*types.Var) // a package-level variable
		return v
	case *ast.StarExpr:
		return nil
	}
	return nil
}

func fieldByName(st *types.Struct, name string) *types.Var {
	for f := range st.Fields() {
		if f.Name() == name {
			return f
		}
	}
	return nil
}

func recvName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return recvName(e.X)
	case *ast.Ident:
		return e.Name
	case *ast.IndexExpr:
		return recvName(e.X)
	case *ast.IndexListExpr:
		return recvName(e.X)
	}
	return "?"
}

// solve follows the flows into the sinks back to their constants.
func (s *scanner) solve(sinks []*types.Var, res *Result) {
	seen := map[*types.Var]bool{}
	var work []*types.Var
	reach := func(v *types.Var, at Unresolved) {
		if seen[v] {
			return
		}
		seen[v] = true
		if _, ok := s.pkgs[v.Pkg()]; v.Pkg() == nil || !ok {
			at.Expr += " (defined outside the scanned packages)"
			res.Unresolved = append(res.Unresolved, at)
			return
		}
		work = append(work, v)
	}
	for _, v := range sinks {
		seen[v] = true
		work = append(work, v)
	}
	for len(work) > 0 {
		v := work[0]
		work = work[1:]
		s.checkCallers(v, res)
		for _, f := range s.flows[v] {
			if f.from != nil {
				at := Unresolved{Func: f.fn, Expr: "a result of a call", Pos: f.pkg.Fset.Position(f.pos)}
				if f.callee != nil && !s.bodies[f.callee] {
					at.Expr = "a result of " + f.callee.FullName() + ", whose body is not scanned"
					res.Unresolved = append(res.Unresolved, at)
					continue
				}
				reach(f.from, at)
				continue
			}
			s.resolve(f, f.expr, res, reach)
		}
	}
}

// checkCallers reports a parameter whose function is also used as a value:
// the calls through that value are out of the scan's sight.
func (s *scanner) checkCallers(v *types.Var, res *Result) {
	var owner types.Object
	if fn := s.funcOwner[v]; fn != nil {
		owner = fn
	} else if sig := s.litOwner[v]; sig != nil {
		bound := false
		for lv, lsig := range s.lits {
			if lsig == sig {
				owner, bound = lv, true
			}
		}
		if !bound {
			res.Unresolved = append(res.Unresolved, Unresolved{Func: "func literal", Expr: "parameter " + v.Name() + " of a function literal not bound to a variable",
				Pos: s.position(v.Pkg(), v.Pos())})
			return
		}
	}
	if owner == nil {
		return
	}
	if fn, ok := owner.(*types.Func); ok && fn.Signature().Recv() != nil {
		for _, u := range s.dynamic[fn.Name()] {
			u.Expr += " calls a method through an interface, maybe " + fn.FullName() + ", whose arguments are not followed"
			res.Unresolved = append(res.Unresolved, u)
		}
		s.dynamic[fn.Name()] = nil
	}
	for _, u := range s.valueUses[owner] {
		u.Expr = owner.Name() + " used as a value, so calls through it are not followed"
		res.Unresolved = append(res.Unresolved, u)
	}
	s.valueUses[owner] = nil // report each once
}

// resolve follows one value: a string constant is a code; a variable is
// followed further; anything else is unresolved.
func (s *scanner) resolve(f flow, e ast.Expr, res *Result, reach func(*types.Var, Unresolved)) {
	info := f.pkg.TypesInfo
	e = ast.Unparen(e)
	at := Unresolved{Func: f.fn, Expr: exprString(f.pkg.Fset, e), Pos: f.pkg.Fset.Position(e.Pos())}
	if f.opaque {
		res.Unresolved = append(res.Unresolved, at)
		return
	}
	if tv, ok := info.Types[e]; ok && tv.Value != nil && tv.Value.Kind() == constant.String {
		res.Sites = append(res.Sites, Site{Code: constant.StringVal(tv.Value), Pos: at.Pos})
		return
	}
	switch x := e.(type) {
	case *ast.Ident, *ast.SelectorExpr:
		if v := varOf(info, x); v != nil {
			reach(v, at)
			return
		}
	case *ast.CallExpr:
		if tv, ok := info.Types[x.Fun]; ok && tv.IsType() && len(x.Args) == 1 {
			s.resolve(f, x.Args[0], res, reach) // a conversion
			return
		}
		if r, fn := s.results(info, x); r != nil && r.Len() == 1 {
			if fn != nil && !s.bodies[fn] {
				at.Expr += " (" + fn.FullName() + "'s body is not scanned)"
				res.Unresolved = append(res.Unresolved, at)
				return
			}
			reach(r.At(0), at)
			return
		}
	}
	res.Unresolved = append(res.Unresolved, at)
}

func (s *scanner) position(p *types.Package, pos token.Pos) token.Position {
	if lp := s.pkgs[p]; lp != nil {
		return lp.Fset.Position(pos)
	}
	return token.Position{}
}

func exprString(fset *token.FileSet, e ast.Expr) string {
	var b strings.Builder
	if err := format.Node(&b, fset, e); err != nil {
		return fmt.Sprintf("%T", e)
	}
	return b.String()
}
