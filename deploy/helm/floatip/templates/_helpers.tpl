{{/*
Object names are fixed (floatip-webhook, floatip-reconciler, webhook configurations "floatip"):
floatip is a cluster add-on, installed once per cluster, and the processes' defaults, the
Lease and the ClusterRoles are named after them.
*/}}

{{/* Labels of every object; "component" is webhook, reconciler, agent or monitoring (or none). */}}
{{- define "floatip.labels" -}}
app.kubernetes.io/name: floatip
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- if .root.Values.helmLabels }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}
{{- end }}

{{/* Selector labels: never change, a Deployment's selector is immutable. */}}
{{- define "floatip.selector" -}}
app.kubernetes.io/name: floatip
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "floatip.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The key as a CEL string literal; values.schema.json allows no quote in it. */}}
{{- define "floatip.celKey" -}}
{{ .Values.key | squote }}
{{- end }}

{{/* CEL: the map at `path` (e.g. object.metadata) has the key as annotation or label. */}}
{{- define "floatip.celCarries" -}}
{{- $key := include "floatip.celKey" .root -}}
((has({{ .path }}.annotations) && {{ $key }} in {{ .path }}.annotations) ||
 (has({{ .path }}.labels) && {{ $key }} in {{ .path }}.labels))
{{- end }}

{{/* Pod-level security: non-root with the image's numeric user, seccomp RuntimeDefault. */}}
{{- define "floatip.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container-level security: nothing writable, no capabilities, no escalation. */}}
{{- define "floatip.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end }}

{{/* Scheduling knobs shared by both Deployments (. is the component's values), each line
only when set; callers indent it with floatip.indent. */}}
{{- define "floatip.scheduling" -}}
{{- with .priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* A block indented by .n on new lines, or nothing at all when it is empty (no blank line). */}}
{{- define "floatip.indent" -}}
{{- $text := trim .text -}}
{{- if $text }}{{ $text | nindent .n }}{{ end -}}
{{- end }}

{{/* Spread replicas over nodes unless the user gives an affinity. */}}
{{- define "floatip.affinity" -}}
affinity:
{{- if .values.affinity }}
  {{- toYaml .values.affinity | nindent 2 }}
{{- else }}
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "floatip.selector" . | nindent 14 }}
{{- end }}
{{- end }}


{{/* The Node annotation the agent writes: the key's prefix + /anchor-ipv4 (shared/keys.ts). */}}
{{- define "floatip.anchorKey" -}}
{{- if contains "/" .Values.key -}}
{{ index (splitList "/" .Values.key) 0 }}/anchor-ipv4
{{- else -}}
anchor-ipv4
{{- end -}}
{{- end }}

{{/* The reconciler's Service class: reconciler.loadBalancerClass, else the key when it has a
prefix, else the default key (reconciler/config.ts). */}}
{{- define "floatip.loadBalancerClass" -}}
{{- if .Values.reconciler.loadBalancerClass -}}
{{ .Values.reconciler.loadBalancerClass }}
{{- else if contains "/" .Values.key -}}
{{ .Values.key }}
{{- else -}}
k8s.haim.dev/floating-ip
{{- end -}}
{{- end }}

{{/* The pods' imagePullSecrets: the listed ones, plus floatip-image-pull when the chart writes it
(imagePullDockerConfigJson); nothing at all when there are none. */}}
{{- define "floatip.imagePullSecrets" -}}
{{- $secrets := .Values.imagePullSecrets -}}
{{- if .Values.imagePullDockerConfigJson }}
{{- $secrets = append $secrets (dict "name" "floatip-image-pull") -}}
{{- end }}
{{- with $secrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
The container command: node, the component's V8 flags (values <component>.nodeFlags; on the
command line because NODE_OPTIONS refuses most V8 flags), its entry point.
Usage: include "floatip.nodeCommand" (list .Values.agent.nodeFlags "dist/agent/main.js")
*/}}
{{- define "floatip.nodeCommand" -}}
{{- $flags := splitList " " (index . 0 | default "") | compact -}}
{{- concat (list "node") $flags (list (index . 1)) | toJson -}}
{{- end }}
