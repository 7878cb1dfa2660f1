// Command big is the large guest of runw's benchmarks: a WASI preview1
// program that links a good part of Go's standard library (net/http,
// crypto/tls and x509, go/parser and go/types, text and html templates,
// encoding/*, compress/*, archive/*, image/*, debug/*, …), so that its
// module holds well over 10 MB of genuine code for the compiler to chew
// on. Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -o big.wasm .
//
// Without arguments it prints one line and exits, so that a benchmark
// measures starting it. With "selftest" it exercises every package it
// links and prints one line per package and a final "ok".
package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"compress/gzip"
	"compress/lzw"
	"compress/zlib"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"debug/dwarf"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/ascii85"
	"encoding/asn1"
	"encoding/base32"
	"encoding/base64"
	"encoding/csv"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"go/ast"
	"go/constant"
	"go/doc"
	"go/format"
	"go/parser"
	"go/printer"
	"go/token"
	"go/types"
	"hash/crc32"
	"hash/fnv"
	htmltemplate "html/template"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/netip"
	"net/textproto"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"
	"unicode/utf16"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "selftest" {
		if err := selftest(os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "big:", err)
			os.Exit(1)
		}
		fmt.Println("ok")
		return
	}
	fmt.Println("Hello from a big WebAssembly container!")
}

// step runs one named check and reports it on its own line.
type step struct {
	name string
	run  func() (string, error)
}

func selftest(w io.Writer) error {
	steps := []step{
		{"http", checkHTTP},
		{"tls", checkTLS},
		{"gotypes", checkGoTypes},
		{"templates", checkTemplates},
		{"encodings", checkEncodings},
		{"compress", checkCompress},
		{"archive", checkArchive},
		{"image", checkImage},
		{"crypto", checkCrypto},
		{"text", checkText},
		{"debug", checkDebug},
	}
	for _, s := range steps {
		out, err := s.run()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(w, "%s: %s\n", s.name, out)
	}
	return nil
}

func checkHTTP() (string, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"id": r.PathValue("id"), "q": r.URL.Query().Get("q")})
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "fields=%d", len(r.MultipartForm.Value))
	})
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/items/42?q=x", nil))
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("a", "1")
	mw.WriteField("b", "2")
	mw.Close()
	req := httptest.NewRequest("POST", "/upload", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	rec2 := httptest.NewRecorder()
	mux.ServeHTTP(rec2, req)

	// A full HTTP/1.1 exchange over an in-memory connection.
	c1, c2 := net.Pipe()
	go func() {
		br := bufio.NewReader(c2)
		r, err := http.ReadRequest(br)
		if err != nil {
			c2.Close()
			return
		}
		resp := &http.Response{StatusCode: 200, ProtoMajor: 1, ProtoMinor: 1, Request: r,
			Header: http.Header{"X-Path": {r.URL.Path}}, Body: io.NopCloser(strings.NewReader("pong")), ContentLength: 4}
		resp.Write(c2)
		c2.Close()
	}()
	out, _ := http.NewRequest("GET", "http://example.test/ping", nil)
	out.Write(c1)
	resp, err := http.ReadResponse(bufio.NewReader(c1), out)
	if err != nil {
		return "", err
	}
	pong, _ := io.ReadAll(resp.Body)
	c1.Close()

	u, _ := url.Parse("https://user@example.test:8443/a/b?x=1#f")
	addr := netip.MustParseAddrPort("[2001:db8::1]:443")
	m, err := mail.ParseAddress("Gopher <gopher@example.test>")
	if err != nil {
		return "", err
	}
	tp := textproto.NewReader(bufio.NewReader(strings.NewReader("K: v\r\n\r\n")))
	hdr, _ := tp.ReadMIMEHeader()
	ct := mime.TypeByExtension(".json")
	return fmt.Sprintf("%d %s %d %s %s %s %s %s %s %s", rec.Code, strings.TrimSpace(rec.Body.String()), rec2.Code, rec2.Body.String(),
		pong, u.Port(), addr.Addr(), m.Address, hdr.Get("K"), ct), nil
}

// selfSigned makes an ECDSA key and a self-signed certificate for name.
func selfSigned(name string) (tls.Certificate, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"runw bench"}},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	return pair, cert, err
}

func checkTLS() (string, error) {
	pair, cert, err := selfSigned("big.test")
	if err != nil {
		return "", err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	c1, c2 := net.Pipe()
	srv := tls.Server(c2, &tls.Config{Certificates: []tls.Certificate{pair}})
	errc := make(chan error, 1)
	go func() {
		defer srv.Close()
		buf := make([]byte, 5)
		if _, err := io.ReadFull(srv, buf); err != nil {
			errc <- err
			return
		}
		_, err := srv.Write(bytes.ToUpper(buf))
		errc <- err
	}()
	cli := tls.Client(c1, &tls.Config{RootCAs: pool, ServerName: "big.test"})
	defer cli.Close()
	if _, err := cli.Write([]byte("hello")); err != nil {
		return "", err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(cli, buf); err != nil {
		return "", err
	}
	if err := <-errc; err != nil {
		return "", err
	}
	st := cli.ConnectionState()
	return fmt.Sprintf("%s %s %s", buf, tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite)), nil
}

const goSource = `package shapes

import "fmt"

// Shape has an area.
type Shape interface{ Area() float64 }

type Rect struct{ W, H float64 }

func (r Rect) Area() float64 { return r.W * r.H }

type Sq = Rect

func Sum[T Shape](xs ...T) (total float64) {
	for _, x := range xs {
		total += x.Area()
	}
	return
}

const Answer = 6 * 7

func Describe(s Shape) string { return fmt.Sprint(s.Area()) }
`

// fakeFmt is the one import goSource needs, type-checked from source.
const fakeFmt = `package fmt

func Sprint(a ...any) string { return "" }
`

type srcImporter struct {
	fset *token.FileSet
	pkgs map[string]*types.Package
}

func (im *srcImporter) Import(path string) (*types.Package, error) {
	if p, ok := im.pkgs[path]; ok {
		return p, nil
	}
	if path != "fmt" {
		return nil, fmt.Errorf("no package %q", path)
	}
	f, err := parser.ParseFile(im.fset, "fmt.go", fakeFmt, 0)
	if err != nil {
		return nil, err
	}
	p, err := (&types.Config{}).Check("fmt", im.fset, []*ast.File{f}, nil)
	if err != nil {
		return nil, err
	}
	im.pkgs[path] = p
	return p, nil
}

func checkGoTypes() (string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "shapes.go", goSource, parser.ParseComments)
	if err != nil {
		return "", err
	}
	info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: &srcImporter{fset: fset, pkgs: map[string]*types.Package{}}}
	pkg, err := conf.Check("shapes", fset, []*ast.File{f}, info)
	if err != nil {
		return "", err
	}
	ans := pkg.Scope().Lookup("Answer").(*types.Const)
	v, _ := constant.Int64Val(ans.Val())
	var pretty bytes.Buffer
	if err := printer.Fprint(&pretty, fset, f); err != nil {
		return "", err
	}
	formatted, err := format.Source(pretty.Bytes())
	if err != nil {
		return "", err
	}
	dp, err := doc.NewFromFiles(fset, []*ast.File{f}, "example.test/shapes")
	if err != nil {
		return "", err
	}
	var funcs int
	ast.Inspect(f, func(n ast.Node) bool {
		if _, ok := n.(*ast.FuncDecl); ok {
			funcs++
		}
		return true
	})
	return fmt.Sprintf("%s answer=%d funcs=%d types=%d defs=%d bytes=%d", pkg.Name(), v, funcs, len(dp.Types), len(info.Defs), len(formatted)), nil
}

type page struct {
	Title string
	Items []string
	N     int
}

func checkTemplates() (string, error) {
	funcs := template.FuncMap{"upper": strings.ToUpper, "add": func(a, b int) int { return a + b }}
	tt := template.Must(template.New("t").Funcs(funcs).Parse(`{{.Title | upper}}:{{range $i, $x := .Items}}{{if $i}},{{end}}{{$x}}{{end}} n={{add .N 1}}`))
	ht := htmltemplate.Must(htmltemplate.New("h").Parse(`<h1 title="{{.Title}}">{{.Title}}</h1><a href="/x?q={{.Title}}">{{range .Items}}<i>{{.}}</i>{{end}}</a>`))
	p := page{Title: "<b>&co</b>", Items: []string{"a", "b", "c"}, N: 41}
	var a, b bytes.Buffer
	if err := tt.Execute(&a, p); err != nil {
		return "", err
	}
	if err := ht.Execute(&b, p); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s | %d", a.String(), b.Len()), nil
}

type record struct {
	XMLName xml.Name          `xml:"record" json:"-"`
	ID      int               `xml:"id,attr" json:"id"`
	Name    string            `xml:"name" json:"name"`
	Tags    []string          `xml:"tags>tag" json:"tags"`
	When    time.Time         `xml:"when" json:"when"`
	Extra   map[string]string `xml:"-" json:"extra,omitempty"`
}

func checkEncodings() (string, error) {
	r := record{ID: 7, Name: "seven", Tags: []string{"x", "y"}, When: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Extra: map[string]string{"k": "v"}}
	xb, err := xml.MarshalIndent(r, "", " ")
	if err != nil {
		return "", err
	}
	var rx record
	if err := xml.Unmarshal(xb, &rx); err != nil {
		return "", err
	}
	jb, _ := json.Marshal(r)
	var rj record
	if err := json.Unmarshal(jb, &rj); err != nil {
		return "", err
	}
	var gb bytes.Buffer
	if err := gob.NewEncoder(&gb).Encode(r); err != nil {
		return "", err
	}
	var rg record
	if err := gob.NewDecoder(&gb).Decode(&rg); err != nil {
		return "", err
	}
	var cb bytes.Buffer
	cw := csv.NewWriter(&cb)
	cw.WriteAll([][]string{{"id", "name"}, {strconv.Itoa(r.ID), r.Name}})
	rows, err := csv.NewReader(&cb).ReadAll()
	if err != nil {
		return "", err
	}
	der, err := asn1.Marshal(struct {
		A int
		B string
	}{1, "two"})
	if err != nil {
		return "", err
	}
	a85 := make([]byte, ascii85.MaxEncodedLen(len(der)))
	n := ascii85.Encode(a85, der)
	s := base64.StdEncoding.EncodeToString(der) + base32.StdEncoding.EncodeToString(der) + hex.EncodeToString(der) + string(a85[:n])
	u16 := utf16.Encode([]rune("héllo"))
	if !reflect.DeepEqual(rx.Tags, rj.Tags) || rg.Name != r.Name {
		return "", errors.New("round trips differ")
	}
	return fmt.Sprintf("xml=%d json=%d gob=%d csv=%d enc=%d u16=%d", len(xb), len(jb), gb.Len(), len(rows), len(s), len(u16)), nil
}

func checkCompress() (string, error) {
	data := bytes.Repeat([]byte("runw compresses this line again and again. "), 200)
	var sizes []string
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	gz.Write(data)
	gz.Close()
	sizes = append(sizes, strconv.Itoa(b.Len()))
	gr, err := gzip.NewReader(&b)
	if err != nil {
		return "", err
	}
	back, _ := io.ReadAll(gr)
	b.Reset()
	zw := zlib.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	sizes = append(sizes, strconv.Itoa(b.Len()))
	b.Reset()
	fw, _ := flate.NewWriter(&b, flate.BestCompression)
	fw.Write(data)
	fw.Close()
	sizes = append(sizes, strconv.Itoa(b.Len()))
	b.Reset()
	lw := lzw.NewWriter(&b, lzw.LSB, 8)
	lw.Write(data)
	lw.Close()
	sizes = append(sizes, strconv.Itoa(b.Len()))
	// bzip2 has only a reader: a stream holding no blocks.
	empty := []byte{0x42, 0x5a, 0x68, 0x39, 0x17, 0x72, 0x45, 0x38, 0x50, 0x90, 0, 0, 0, 0}
	if _, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(empty))); err != nil {
		return "", err
	}
	if !bytes.Equal(back, data) {
		return "", errors.New("gzip round trip differs")
	}
	return strings.Join(sizes, " "), nil
}

func checkArchive() (string, error) {
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for i := range 3 {
		f, _ := zw.Create(fmt.Sprintf("f%d.txt", i))
		fmt.Fprintf(f, "file %d\n", i)
	}
	zw.Close()
	zr, err := zip.NewReader(bytes.NewReader(zb.Bytes()), int64(zb.Len()))
	if err != nil {
		return "", err
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, f := range zr.File {
		rc, _ := f.Open()
		body, _ := io.ReadAll(rc)
		rc.Close()
		tw.WriteHeader(&tar.Header{Name: f.Name, Mode: 0o644, Size: int64(len(body))})
		tw.Write(body)
	}
	tw.Close()
	tr := tar.NewReader(&tb)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		names = append(names, h.Name)
	}
	return strings.Join(names, ","), nil
}

func checkImage() (string, error) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.RGBA{200, 100, 50, 255}}, image.Point{}, draw.Src)
	for x := range 64 {
		img.Set(x, x*48/64, color.White)
	}
	var pb, jb, gb bytes.Buffer
	if err := png.Encode(&pb, img); err != nil {
		return "", err
	}
	if err := jpeg.Encode(&jb, img, &jpeg.Options{Quality: 80}); err != nil {
		return "", err
	}
	if err := gif.Encode(&gb, img, nil); err != nil {
		return "", err
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(pb.Bytes()))
	if err != nil {
		return "", err
	}
	if _, err := jpeg.Decode(bytes.NewReader(jb.Bytes())); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %dx%d png=%d jpeg=%d gif=%d", format, cfg.Width, cfg.Height, pb.Len(), jb.Len(), gb.Len()), nil
}

func checkCrypto() (string, error) {
	msg := []byte("runw benchmark guest")
	sums := []string{
		hex.EncodeToString(md5.New().Sum(msg))[:8],
		fmt.Sprintf("%x", sha1.Sum(msg))[:8],
		fmt.Sprintf("%x", sha256.Sum256(msg))[:8],
		fmt.Sprintf("%x", sha512.Sum512(msg))[:8],
		fmt.Sprintf("%x", sha3.Sum256(msg))[:8],
	}
	mac := hmac.New(sha256.New, []byte("key"))
	mac.Write(msg)
	block, err := aes.NewCipher(make([]byte, 32))
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	sealed := gcm.Seal(nil, nonce, msg, nil)
	opened, err := gcm.Open(nil, nonce, sealed, nil)
	if err != nil || !bytes.Equal(opened, msg) {
		return "", fmt.Errorf("gcm: %v", err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	if !ed25519.Verify(pub, msg, ed25519.Sign(priv, msg)) {
		return "", errors.New("ed25519 verify failed")
	}
	ek, _ := ecdh.X25519().GenerateKey(rand.Reader)
	ek2, _ := ecdh.X25519().GenerateKey(rand.Reader)
	s1, _ := ek.ECDH(ek2.PublicKey())
	s2, _ := ek2.ECDH(ek.PublicKey())
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(msg)
	sig, err := rsa.SignPSS(rand.Reader, rk, 5, h[:], nil)
	if err != nil {
		return "", err
	}
	if err := rsa.VerifyPSS(&rk.PublicKey, 5, h[:], sig, nil); err != nil {
		return "", err
	}
	f := fnv.New64a()
	f.Write(msg)
	return fmt.Sprintf("%s hmac=%x ecdh=%v crc=%08x fnv=%x", strings.Join(sums, ","), mac.Sum(nil)[:4], bytes.Equal(s1, s2), crc32.ChecksumIEEE(msg), f.Sum64()), nil
}

func checkText() (string, error) {
	re := regexp.MustCompile(`(?i)(\w+)@(\w+)\.test`)
	m := re.FindAllStringSubmatch("a@b.test, C@D.TEST, nope", -1)
	var tb bytes.Buffer
	tw := tabwriter.NewWriter(&tb, 0, 4, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "a\tbb\tccc\t")
	fmt.Fprintln(tw, "dddd\te\tf\t")
	tw.Flush()
	var lb bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&lb, nil))
	log.Info("started", "guest", "big", "n", 3)
	fs := flag.NewFlagSet("big", flag.ContinueOnError)
	n := fs.Int("n", 1, "count")
	fs.Parse([]string{"-n", "5"})
	words := strings.Fields("the quick brown fox jumps over the lazy dog")
	sort.Strings(words)
	words = slices.Compact(words)
	r := new(big.Rat).SetFrac64(1, 3)
	r.Add(r, big.NewRat(1, 6))
	fact := new(big.Int).MulRange(1, 30)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v := expvar.NewInt("big_runs")
	v.Add(1)
	var db *sql.DB
	_ = db
	return fmt.Sprintf("re=%d tab=%d log=%d n=%d words=%d rat=%s fact=%d ctx=%v drivers=%d", len(m), tb.Len(), lb.Len(), *n, len(words), r.RatString(), fact.BitLen(), ctx.Err() == nil, len(sql.Drivers())), nil
}

func checkDebug() (string, error) {
	// Parse tiny hand-built headers: every format reader is linked in and
	// run on input it must reject or accept.
	_, errElf := elf.NewFile(bytes.NewReader([]byte("\x7fELF")))
	_, errPE := pe.NewFile(bytes.NewReader([]byte("MZ")))
	_, errMacho := macho.NewFile(bytes.NewReader([]byte{0xfe, 0xed, 0xfa, 0xcf}))
	_, errDwarf := dwarf.New(nil, nil, nil, nil, nil, nil, nil, nil)
	return fmt.Sprintf("elf=%v pe=%v macho=%v dwarf=%v", errElf != nil, errPE != nil, errMacho != nil, errDwarf != nil), nil
}
