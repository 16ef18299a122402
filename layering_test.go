package zkmirror_test

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFilesCallOnlyDownward: the library's files form layers (mirror.go on top; node.go and
// the Tree's files; the holders, the keeper and the Mirror's call runner; streams, the
// dispatcher and Tree events; errors, paths, limits and options at the bottom). A function
// of one file never calls into a file that calls back into it, directly or through others.
func TestFilesCallOnlyDownward(t *testing.T) {
	for _, dir := range []string{".", "internal/engine"} {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
		if err != nil {
			t.Fatal(err)
		}
		var files []*ast.File
		for _, p := range pkgs {
			for _, f := range p.Files {
				files = append(files, f)
			}
		}
		info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
		conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
		pkg, err := conf.Check(dir, fset, files, info)
		if err != nil {
			t.Fatal(err)
		}
		calls := map[string]map[string]bool{} // file -> files whose functions it calls
		for id, obj := range info.Uses {
			if _, ok := obj.(*types.Func); !ok || obj.Pkg() != pkg {
				continue
			}
			from := filepath.Base(fset.Position(id.Pos()).Filename)
			to := filepath.Base(fset.Position(obj.Pos()).Filename)
			if from != to {
				if calls[from] == nil {
					calls[from] = map[string]bool{}
				}
				calls[from][to] = true
			}
		}
		// A cycle in the call graph between files: depth-first search.
		const (
			unseen = iota
			open
			done
		)
		state := map[string]int{}
		var path []string
		var visit func(f string)
		visit = func(f string) {
			state[f] = open
			path = append(path, f)
			for g := range calls[f] {
				switch state[g] {
				case open:
					i := len(path) - 1
					for path[i] != g {
						i--
					}
					t.Errorf("%s: files call each other: %s -> %s", dir, strings.Join(path[i:], " -> "), g)
				case unseen:
					visit(g)
				}
			}
			path = path[:len(path)-1]
			state[f] = done
		}
		for f := range calls {
			if state[f] == unseen {
				visit(f)
			}
		}
	}
}
