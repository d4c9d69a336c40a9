package dsl

import (
	"go/ast"
	"go/token"
	"strconv"
)

// The position hook lives in a package that scripts cannot import: the
// import check runs before instrumentation and rejects every path outside
// the allowlist, this one included.
const (
	posImport  = "docker-rke.internal/pos"
	posPackage = "pos"
	posAlias   = "__rke_pos"
)

// instrument inserts, before every statement of the script, a call that
// records the statement's position in the session:
//
//	__rke_pos.At(12, 3)
//	c.Node("n1", "master")
//
// Definitions then remember where they were made, a panic or a runaway loop
// is reported at the statement that was running, and no script is ever run
// twice. The inserted nodes carry the position of the statement they
// precede, so compile errors still point at the user's code.
func instrument(fset *token.FileSet, f *ast.File) {
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BlockStmt:
			n.List = withMarkers(fset, n.List)
		case *ast.CaseClause:
			n.Body = withMarkers(fset, n.Body)
		}
		return true
	})
	// After the markers, so that these two statements get none of their own.
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Body != nil {
				n.Body.List = append(depthGuard(n.Body.Lbrace), n.Body.List...)
			}
		case *ast.FuncLit:
			n.Body.List = append(depthGuard(n.Body.Lbrace), n.Body.List...)
		}
		return true
	})
	imp := &ast.ImportSpec{
		Name: ast.NewIdent(posAlias),
		Path: &ast.BasicLit{Kind: token.STRING, Value: strconv.Quote(posImport)},
	}
	f.Imports = append(f.Imports, imp)
	f.Decls = append([]ast.Decl{&ast.GenDecl{Tok: token.IMPORT, Specs: []ast.Spec{imp}}}, f.Decls...)
}

func withMarkers(fset *token.FileSet, list []ast.Stmt) []ast.Stmt {
	out := make([]ast.Stmt, 0, 2*len(list))
	for _, st := range list {
		if _, isEmpty := st.(*ast.EmptyStmt); !isEmpty {
			out = append(out, marker(fset, st.Pos()))
		}
		out = append(out, st)
	}
	return out
}

// depthGuard is "__rke_pos.Enter(); defer __rke_pos.Leave()".
func depthGuard(at token.Pos) []ast.Stmt {
	call := func(name string) *ast.CallExpr {
		return &ast.CallExpr{
			Fun:    &ast.SelectorExpr{X: &ast.Ident{NamePos: at, Name: posAlias}, Sel: &ast.Ident{NamePos: at, Name: name}},
			Lparen: at,
			Rparen: at,
		}
	}
	return []ast.Stmt{&ast.ExprStmt{X: call("Enter")}, &ast.DeferStmt{Defer: at, Call: call("Leave")}}
}

func marker(fset *token.FileSet, at token.Pos) ast.Stmt {
	p := fset.Position(at)
	lit := func(v int) *ast.BasicLit {
		return &ast.BasicLit{ValuePos: at, Kind: token.INT, Value: strconv.Itoa(v)}
	}
	return &ast.ExprStmt{X: &ast.CallExpr{
		Fun:    &ast.SelectorExpr{X: &ast.Ident{NamePos: at, Name: posAlias}, Sel: &ast.Ident{NamePos: at, Name: "At"}},
		Lparen: at,
		Args:   []ast.Expr{lit(p.Line), lit(p.Column)},
		Rparen: at,
	}}
}
