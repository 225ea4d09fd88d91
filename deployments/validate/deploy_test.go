package validate

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// root is the repository root, seen from deployments/validate.
const root = "../.."

// TestComposeLoads loads every compose file as `docker compose config` does (schema, interpolation,
// references between services) and checks what the stack relies on.
func TestComposeLoads(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(root, "deployments/compose/compose*.yaml"))
	if len(files) == 0 {
		t.Fatal("no compose file in deployments/compose")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			p := loadCompose(t, file)
			checkCompose(t, p)
		})
	}
}

func loadCompose(t *testing.T, file string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithName("trackflow"), cli.WithWorkingDirectory(filepath.Dir(file)),
		// What an operator must export before `docker compose up` (the README of deployments/compose).
		cli.WithEnv([]string{"CLICK_ID_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 32))}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	return p
}

// pinned is an image reference with an explicit version: a tag other than latest, or a digest.
var pinned = regexp.MustCompile(`^[^:@]+(:[A-Za-z0-9_][A-Za-z0-9_.-]*|@sha256:[0-9a-f]{64})$`)

func checkCompose(t *testing.T, p *types.Project) {
	t.Helper()
	for name, s := range p.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("service %s names neither an image nor a build", name)
		}
		if s.Build == nil && (!pinned.MatchString(s.Image) || strings.HasSuffix(s.Image, ":latest")) {
			t.Errorf("service %s: image %q is not pinned to a version", name, s.Image)
		}
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("service %s mounts %s: %v", name, v.Source, err)
				}
			}
		}
	}
	env := func(service, name string) string {
		s, ok := p.Services[service]
		if !ok {
			t.Errorf("no service %s", service)
			return ""
		}
		if v := s.Environment[name]; v != nil {
			return *v
		}
		return ""
	}
	if r := env("api", "ROLE"); r != "api" {
		t.Errorf("api: ROLE=%q, want api", r)
	}
	if r := env("worker", "ROLE"); r != "worker" {
		t.Errorf("worker: ROLE=%q, want worker", r)
	}
	for _, s := range []string{"api", "worker"} {
		if m := env(s, "MIGRATE"); m != "false" {
			t.Errorf("%s: MIGRATE=%q, want false (the migrate service migrates)", s, m)
		}
		if p.Services[s].HealthCheck == nil || len(p.Services[s].HealthCheck.Test) == 0 {
			t.Errorf("%s has no healthcheck", s)
		}
		if d, ok := p.Services[s].DependsOn["migrate"]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s must start after migrate completed successfully: %+v", s, p.Services[s].DependsOn)
		}
	}
	if m := p.Services["migrate"]; !slices.Equal(m.Command, types.ShellCommand{"migrate"}) {
		t.Errorf("migrate service runs %q, want [migrate]", m.Command)
	}
	if env("temporal-ui", "TEMPORAL_CODEC_ENDPOINT") == "" {
		t.Error("temporal-ui: no TEMPORAL_CODEC_ENDPOINT")
	}
	if img := p.Services["temporal"].Image; !strings.HasPrefix(img, "temporalio/server:") {
		t.Errorf("temporal runs %q, want a temporalio/server cluster", img)
	}
	for name, s := range p.Services {
		for dep, d := range s.DependsOn {
			if d.Condition == types.ServiceConditionHealthy && p.Services[dep].HealthCheck == nil {
				t.Errorf("%s waits for %s to be healthy, which has no healthcheck", name, dep)
			}
		}
	}
}

// manifests is the output of one kustomize build, decoded strictly.
type manifests struct {
	deployments  []*appsv1.Deployment
	jobs         []*batchv1.Job
	services     []*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	secrets      map[string]*corev1.Secret
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	pdbs         []*policyv1.PodDisruptionBudget
	policies     []*networkingv1.NetworkPolicy
	namespaces   []*corev1.Namespace
	allDocuments int
}

// kustomizations are the kustomize roots to build, and whether each keeps PodDisruptionBudgets
// (the dev overlay, one replica of each, deletes them).
var kustomizations = map[string]bool{"deployments/k8s/base": true, "deployments/k8s/overlays/dev": false}

// TestKubernetesManifests builds each kustomization, decodes every document strictly into the
// k8s.io/api type of its kind, and checks the objects against each other and against the code.
func TestKubernetesManifests(t *testing.T) {
	readVars := envVarsTheBinaryReads(t)
	// The base expects the Secret out of band: its keys are the example's.
	example := build(t, "deployments/k8s/overlays/dev").secrets["trackflow"]
	if example == nil {
		t.Fatal("the dev overlay has no Secret trackflow (secret.example.yaml)")
	}
	for dir, withPDB := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			m := build(t, dir)
			if _, ok := m.secrets["trackflow"]; !ok {
				m.secrets["trackflow"] = example
			}
			checkManifests(t, m, readVars)
			if withPDB && len(m.pdbs) < 2 {
				t.Errorf("%d PodDisruptionBudgets, want the api's and the worker's", len(m.pdbs))
			}
		})
	}
}

func build(t *testing.T, dir string) *manifests {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	m := &manifests{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	for _, r := range res.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		kind := r.GetKind()
		if err := m.add(kind, doc); err != nil {
			t.Errorf("%s %s/%s: %v", dir, kind, r.GetName(), err)
		}
		m.allDocuments++
	}
	if m.allDocuments == 0 {
		t.Fatalf("kustomize build %s: no documents", dir)
	}
	return m
}

// add decodes one document into the type of its kind; a field the type does not have fails.
func (m *manifests) add(kind string, doc []byte) error {
	var obj any
	switch kind {
	case "Deployment":
		o := &appsv1.Deployment{}
		m.deployments, obj = append(m.deployments, o), o
	case "Job":
		o := &batchv1.Job{}
		m.jobs, obj = append(m.jobs, o), o
	case "Service":
		o := &corev1.Service{}
		m.services, obj = append(m.services, o), o
	case "ConfigMap":
		o := &corev1.ConfigMap{}
		defer func() { m.configMaps[o.Name] = o }()
		obj = o
	case "Secret":
		o := &corev1.Secret{}
		defer func() { m.secrets[o.Name] = o }()
		obj = o
	case "HorizontalPodAutoscaler":
		o := &autoscalingv2.HorizontalPodAutoscaler{}
		m.hpas, obj = append(m.hpas, o), o
	case "PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		m.pdbs, obj = append(m.pdbs, o), o
	case "NetworkPolicy":
		o := &networkingv1.NetworkPolicy{}
		m.policies, obj = append(m.policies, o), o
	case "Namespace":
		o := &corev1.Namespace{}
		m.namespaces, obj = append(m.namespaces, o), o
	default:
		return fmt.Errorf("kind %s: no k8s.io/api type known to this test; add it", kind)
	}
	return decodeStrict(doc, obj)
}

// decodeStrict turns YAML into JSON (duplicate keys fail) and decodes it with unknown fields
// refused, as `kubectl apply --validate=strict` would.
func decodeStrict(doc []byte, obj any) error {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	return dec.Decode(obj)
}

// workload is a pod template with the name and kind of what runs it.
type workload struct {
	kind, name string
	tmpl       *corev1.PodTemplateSpec
}

func (m *manifests) workloads() []workload {
	var w []workload
	for _, d := range m.deployments {
		w = append(w, workload{"Deployment", d.Name, &d.Spec.Template})
	}
	for _, j := range m.jobs {
		w = append(w, workload{"Job", j.Name, &j.Spec.Template})
	}
	return w
}

func (m *manifests) deployment(name string) *appsv1.Deployment {
	for _, d := range m.deployments {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func checkManifests(t *testing.T, m *manifests, readVars []string) {
	t.Helper()
	for _, d := range m.deployments {
		sel := d.Spec.Selector
		if sel == nil || len(sel.MatchLabels) == 0 {
			t.Errorf("Deployment %s: no selector", d.Name)
			continue
		}
		if !labels.SelectorFromSet(sel.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("Deployment %s: selector %v does not match its template's labels %v", d.Name, sel.MatchLabels, d.Spec.Template.Labels)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.ReadinessProbe == nil || c.LivenessProbe == nil {
				t.Errorf("Deployment %s container %s: readiness and liveness probes required", d.Name, c.Name)
			}
		}
	}
	for _, w := range m.workloads() {
		checkPod(t, w, m, readVars)
	}
	for _, s := range m.services {
		d := m.selected(s.Spec.Selector)
		if d == nil {
			t.Errorf("Service %s: selector %v selects no Deployment", s.Name, s.Spec.Selector)
			continue
		}
		for _, p := range s.Spec.Ports {
			if !hasPort(d.Spec.Template.Spec.Containers, p.TargetPort, p.Port) {
				t.Errorf("Service %s port %d: target %s is no container port of Deployment %s", s.Name, p.Port, p.TargetPort.String(), d.Name)
			}
		}
	}
	for _, h := range m.hpas {
		ref := h.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || m.deployment(ref.Name) == nil {
			t.Errorf("HPA %s scales %s %s, which is not in the build", h.Name, ref.Kind, ref.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
			t.Errorf("HPA %s: replicas %v..%d", h.Name, h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
	}
	for _, p := range m.pdbs {
		if p.Spec.Selector == nil || m.selected(p.Spec.Selector.MatchLabels) == nil {
			t.Errorf("PodDisruptionBudget %s selects no Deployment", p.Name)
		}
	}
	for _, np := range m.policies {
		if len(np.Spec.PodSelector.MatchLabels) > 0 && m.selected(np.Spec.PodSelector.MatchLabels) == nil {
			t.Errorf("NetworkPolicy %s selects no Deployment", np.Name)
		}
	}
	for _, name := range []string{"trackflow-api", "trackflow-worker"} {
		if m.deployment(name) == nil {
			t.Errorf("no Deployment %s", name)
		}
	}
	if len(m.jobs) == 0 || len(m.hpas) == 0 || len(m.policies) == 0 {
		t.Errorf("the build lacks a migration Job, an HPA or a NetworkPolicy (%d jobs, %d HPAs, %d policies)",
			len(m.jobs), len(m.hpas), len(m.policies))
	}
	checkWorkerGrace(t, m)
}

// selected is the Deployment whose pod template the selector matches.
func (m *manifests) selected(sel map[string]string) *appsv1.Deployment {
	if len(sel) == 0 {
		return nil
	}
	for _, d := range m.deployments {
		if labels.SelectorFromSet(sel).Matches(labels.Set(d.Spec.Template.Labels)) {
			return d
		}
	}
	return nil
}

func hasPort(cs []corev1.Container, target intstr.IntOrString, port int32) bool {
	for _, c := range cs {
		for _, p := range c.Ports {
			switch {
			case target.Type == intstr.String && target.StrVal != "" && p.Name == target.StrVal,
				target.Type == intstr.Int && target.IntVal != 0 && p.ContainerPort == target.IntVal,
				target.Type == intstr.Int && target.IntVal == 0 && p.ContainerPort == port:
				return true
			}
		}
	}
	return false
}

// checkPod: the security context the issue asks for, resources, a pinned image, and every
// environment variable the binary reads supplied by the ConfigMap or the Secret.
func checkPod(t *testing.T, w workload, m *manifests, readVars []string) {
	t.Helper()
	spec := w.tmpl.Spec
	where := w.kind + " " + w.name
	if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("%s: pod securityContext.runAsNonRoot must be true", where)
	}
	for _, c := range spec.Containers {
		where := where + " container " + c.Name
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s: securityContext must set readOnlyRootFilesystem, no privilege escalation and drop ALL capabilities", where)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: CPU and memory requests and a memory limit required", where)
		}
		if !pinned.MatchString(c.Image) || strings.HasSuffix(c.Image, ":latest") {
			t.Errorf("%s: image %q is not pinned to a version", where, c.Image)
		}
		have := map[string]bool{}
		for _, e := range c.Env {
			if e.ValueFrom != nil {
				if err := m.keyExists(e.ValueFrom); err != nil {
					t.Errorf("%s: env %s: %v", where, e.Name, err)
					continue
				}
			}
			have[e.Name] = true
		}
		for _, src := range c.EnvFrom {
			switch {
			case src.ConfigMapRef != nil:
				cm := m.configMaps[src.ConfigMapRef.Name]
				if cm == nil {
					t.Errorf("%s: envFrom ConfigMap %s is not in the build", where, src.ConfigMapRef.Name)
					continue
				}
				for k := range cm.Data {
					have[src.Prefix+k] = true
				}
			case src.SecretRef != nil:
				s := m.secrets[src.SecretRef.Name]
				if s == nil {
					t.Errorf("%s: envFrom Secret %s is not in the build", where, src.SecretRef.Name)
					continue
				}
				for k := range s.StringData {
					have[src.Prefix+k] = true
				}
				for k := range s.Data {
					have[src.Prefix+k] = true
				}
			}
		}
		for _, v := range readVars {
			if !have[v] {
				t.Errorf("%s: %s, which the binary reads, comes from neither the ConfigMap nor the Secret", where, v)
			}
		}
	}
}

func (m *manifests) keyExists(src *corev1.EnvVarSource) error {
	switch {
	case src.ConfigMapKeyRef != nil:
		cm := m.configMaps[src.ConfigMapKeyRef.Name]
		if cm == nil {
			return fmt.Errorf("ConfigMap %s is not in the build", src.ConfigMapKeyRef.Name)
		}
		if _, ok := cm.Data[src.ConfigMapKeyRef.Key]; !ok {
			return fmt.Errorf("ConfigMap %s has no key %s", cm.Name, src.ConfigMapKeyRef.Key)
		}
	case src.SecretKeyRef != nil:
		s := m.secrets[src.SecretKeyRef.Name]
		if s == nil {
			return fmt.Errorf("Secret %s is not in the build", src.SecretKeyRef.Name)
		}
		_, a := s.StringData[src.SecretKeyRef.Key]
		_, b := s.Data[src.SecretKeyRef.Key]
		if !a && !b {
			return fmt.Errorf("Secret %s has no key %s", s.Name, src.SecretKeyRef.Key)
		}
	}
	return nil
}

// checkWorkerGrace: a stopping worker's pod lives long enough for a pixel attempt
// (POSTBACK_TIMEOUT) plus the process's drain budget (the click writer's 30 s) and a margin.
func checkWorkerGrace(t *testing.T, m *manifests) {
	t.Helper()
	d := m.deployment("trackflow-worker")
	cm := m.configMaps["trackflow-config"]
	if d == nil || cm == nil {
		t.Error("no worker Deployment or ConfigMap trackflow-config")
		return
	}
	attempt, err := time.ParseDuration(cm.Data["POSTBACK_TIMEOUT"])
	if err != nil {
		t.Errorf("ConfigMap POSTBACK_TIMEOUT: %v", err)
		return
	}
	const drain, margin = 30 * time.Second, 5 * time.Second
	var grace time.Duration
	if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if grace < attempt+drain+margin {
		t.Errorf("worker terminationGracePeriodSeconds %v: want at least %v (attempt %v + drain %v + margin %v)", grace, attempt+drain+margin, attempt, drain, margin)
	}
}

// envVarsTheBinaryReads finds, in the service's Go code (not tests, not the bench driver or the
// test harness), every environment variable read by name: os.Getenv and os.LookupEnv with a
// literal, and cmd/trackflow's helpers (env("NAME", default) and the like). Reading the Temporal
// client's settings through the SDK's envconfig adds the ones it reads that a deployment sets.
func envVarsTheBinaryReads(t *testing.T) []string {
	t.Helper()
	upper := regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	skip := []string{"deployments", "e2e", "cmd/bench", "internal/testenv", ".dev", ".git"}
	vars := map[string]bool{}
	envconfig := false
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if slices.Contains(skip, filepath.ToSlash(rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if strings.Contains(imp.Path.Value, "go.temporal.io/sdk/contrib/envconfig") {
				envconfig = true
			}
		}
		inMain := filepath.ToSlash(filepath.Dir(rel)) == "cmd/trackflow"
		ast.Inspect(f, func(n ast.Node) bool {
			// cmd/trackflow's tables of settings ({"HTTP_IDLE_TIMEOUT", &c.HTTP.Idle, ...}) and
			// constants naming a variable (const EnvKeys = "TEMPORAL_CODEC_KEYS") count too.
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && inMain {
				if name, err := strconv.Unquote(lit.Value); err == nil && upper.MatchString(name) && strings.Contains(name, "_") {
					vars[name] = true
				}
			}
			if spec, ok := n.(*ast.ValueSpec); ok && len(spec.Names) == 1 && strings.HasPrefix(spec.Names[0].Name, "Env") && len(spec.Values) == 1 {
				if lit, ok := spec.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if name, err := strconv.Unquote(lit.Value); err == nil && upper.MatchString(name) {
						vars[name] = true
					}
				}
			}
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			name, err := strconv.Unquote(lit.Value)
			if err != nil || !upper.MatchString(name) {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "os" && (sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv") {
					vars[name] = true
				}
			} else if inMain {
				vars[name] = true // env("NAME", def), envBool("NAME", ...): cmd/trackflow's readers
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if envconfig {
		for _, v := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_TLS"} {
			vars[v] = true
		}
	}
	// ROLE is each workload's own (api, worker; the Job runs `trackflow migrate`).
	delete(vars, "ROLE")
	var list []string
	for v := range vars {
		list = append(list, v)
	}
	slices.Sort(list)
	if !slices.Contains(list, "DATABASE_URL") || !slices.Contains(list, "POSTBACK_TIMEOUT") {
		t.Fatalf("the scan of the code found too little: %v", list)
	}
	t.Logf("variables the binary reads: %v", list)
	return list
}

// TestTemporalHelmValues: the values for the official Temporal chart parse, keep history and
// visibility in Postgres, point the UI at trackflow's codec endpoint and name exactly the search
// attributes the code registers.
func TestTemporalHelmValues(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "deployments/k8s/temporal-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Server struct {
			Image  struct{ Repository, Tag string }
			Config struct {
				Persistence struct {
					DefaultStore    string                    `json:"defaultStore"`
					VisibilityStore string                    `json:"visibilityStore"`
					Datastores      map[string]map[string]any `json:"datastores"`
				}
				Namespaces struct {
					Create    bool
					Namespace []struct{ Name, Retention string }
				}
			}
		}
		Web struct {
			AdditionalEnv []struct{ Name, Value string } `json:"additionalEnv"`
		}
		SearchAttributes map[string]string `json:"searchAttributes"`
		ExtraObjects     []string          `json:"extraObjects"`
	}
	js, err := yaml.YAMLToJSONStrict(b)
	if err != nil {
		t.Fatalf("temporal-values.yaml: %v", err)
	}
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatalf("temporal-values.yaml: %v", err)
	}
	p := v.Server.Config.Persistence
	for _, store := range []string{p.DefaultStore, p.VisibilityStore} {
		sql, ok := p.Datastores[store]["sql"].(map[string]any)
		if !ok || sql["pluginName"] != "postgres12" {
			t.Errorf("datastore %q: want sql with pluginName postgres12, got %v", store, p.Datastores[store])
		}
	}
	if p.DefaultStore == p.VisibilityStore || p.DefaultStore == "" {
		t.Errorf("default store %q and visibility store %q must be two Postgres databases", p.DefaultStore, p.VisibilityStore)
	}
	if !pinned.MatchString(v.Server.Image.Repository + ":" + v.Server.Image.Tag) {
		t.Errorf("server image %s:%s is not pinned", v.Server.Image.Repository, v.Server.Image.Tag)
	}
	codec := false
	for _, e := range v.Web.AdditionalEnv {
		codec = codec || e.Name == "TEMPORAL_CODEC_ENDPOINT" && strings.HasSuffix(e.Value, "/codec")
	}
	if !codec {
		t.Error("web.additionalEnv: no TEMPORAL_CODEC_ENDPOINT ending in /codec")
	}
	var names []string
	for name, typ := range v.SearchAttributes {
		names = append(names, name)
		if typ != "Keyword" {
			t.Errorf("search attribute %s: %s, the code registers Keyword", name, typ)
		}
	}
	slices.Sort(names)
	want := searchAttributeNames(t)
	if !slices.Equal(names, want) {
		t.Errorf("searchAttributes %v, the code registers %v", names, want)
	}
	if !v.Server.Config.Namespaces.Create || len(v.Server.Config.Namespaces.Namespace) == 0 {
		t.Error("server.config.namespaces: the chart must create trackflow's namespace")
	}
	if len(v.ExtraObjects) == 0 || !strings.Contains(v.ExtraObjects[0], ".Values.searchAttributes") {
		t.Error("extraObjects: no Job registering .Values.searchAttributes")
	}
}

// searchAttributeNames reads the names of the service's search attribute keys (the
// temporal.NewSearchAttributeKeyKeyword calls in workflows/, from which SearchAttributeNames, the
// list `trackflow migrate` registers, derives) from its source, so this module needs none of the
// service's dependencies.
func searchAttributeNames(t *testing.T) []string {
	t.Helper()
	var names []string
	files, _ := filepath.Glob(filepath.Join(root, "workflows", "*.go"))
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "NewSearchAttributeKeyKeyword" {
				return true
			}
			var b *ast.BasicLit
			if len(call.Args) == 1 {
				b, _ = call.Args[0].(*ast.BasicLit)
			}
			if b == nil || b.Kind != token.STRING {
				t.Fatalf("%s: a search attribute key whose name is not a literal", path)
			}
			name, _ := strconv.Unquote(b.Value)
			names = append(names, name)
			return false
		})
	}
	if len(names) == 0 {
		t.Fatal("no search attribute keys in workflows/")
	}
	slices.Sort(names)
	return names
}

// TestScriptSearchAttributes: the dev scripts, which run before the binary is built, name exactly
// the search attributes the code registers.
func TestScriptSearchAttributes(t *testing.T) {
	want := searchAttributeNames(t)
	for file, re := range map[string]*regexp.Regexp{
		"deployments/local/temporal.sh":                   regexp.MustCompile(`(?m)^search_attributes=\(([^)]*)\)`),
		"deployments/local/register-search-attributes.sh": regexp.MustCompile(`(?m)^for name in ([^;]*);`),
	} {
		b, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		m := re.FindSubmatch(b)
		if m == nil {
			t.Errorf("%s: no list of search attributes (%s)", file, re)
			continue
		}
		names := strings.Fields(string(m[1]))
		slices.Sort(names)
		if !slices.Equal(names, want) {
			t.Errorf("%s names %v, the code registers %v", file, names, want)
		}
	}
}
