{{/*
Names and labels shared by every template, so that objects of one release find each other.
*/}}

{{- define "sensorpipe.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, unless the release name already contains the chart name. */}}
{{- define "sensorpipe.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sensorpipe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sensorpipe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "sensorpipe.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sensorpipe.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sensorpipe
{{- end }}

{{- define "sensorpipe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sensorpipe.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Operator image: a digest pins it; otherwise the tag, defaulting to appVersion. */}}
{{- define "sensorpipe.image" -}}
{{- $repository := include "sensorpipe.registry" (dict "root" . "ref" .Values.image.repository) }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* An image reference ("ref") with `global.imageRegistry` in place of its registry: the first
path part when it names a host (has a dot or a port, or is localhost), else prefixed. */}}
{{- define "sensorpipe.registry" -}}
{{- $ref := .ref }}
{{- $registry := trimSuffix "/" (.root.Values.global.imageRegistry | default "") }}
{{- if $registry }}
{{- $parts := splitList "/" $ref }}
{{- $first := first $parts }}
{{- if and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) }}
{{- $ref = join "/" (rest $parts) }}
{{- end }}
{{- $ref = printf "%s/%s" $registry $ref }}
{{- end }}
{{- $ref }}
{{- end }}

{{/* A child image (childImages.*): the registry override, and the chart's appVersion as tag
when the reference names neither a tag nor a digest, so children follow the operator. */}}
{{- define "sensorpipe.childImage" -}}
{{- $ref := include "sensorpipe.registry" . }}
{{- $last := last (splitList "/" $ref) }}
{{- if or (contains ":" $last) (contains "@" $last) }}
{{- $ref }}
{{- else }}
{{- printf "%s:%s" $ref .root.Chart.AppVersion }}
{{- end }}
{{- end }}

{{/* Watched namespaces as a list: empty when the whole cluster is watched. */}}
{{- define "sensorpipe.watchNamespaces" -}}
{{- if eq .Values.watch.scope "namespaces" }}
{{- default (list .Release.Namespace) .Values.watch.namespaces | uniq | toJson }}
{{- else }}
{{- list | toJson }}
{{- end }}
{{- end }}

{{/*
The operator's RBAC rules, read from files/operator-rules.yaml (owned by the operator, the one
source of truth, see docs/contracts.md §5). Returns {"namespaced": [...], "clusterWide": [...]}.
*/}}
{{- define "sensorpipe.rules" -}}
{{- $rules := .Files.Get "files/operator-rules.yaml" | fromYaml }}
{{- if hasKey $rules "Error" }}
{{- fail (printf "files/operator-rules.yaml is not a YAML mapping: %s" (get $rules "Error")) }}
{{- end }}
{{- dict "namespaced" (default (list) (get $rules "namespaced")) "clusterWide" (default (list) (get $rules "clusterWide")) | toJson }}
{{- end }}

{{/*
The Spark driver's RBAC rules, read from files/spark-driver-rules.yaml (the operator binds the
ClusterRole made of them to each pipeline's driver). Returns the list of rules as JSON.
*/}}
{{- define "sensorpipe.sparkDriverRules" -}}
{{- $file := .Files.Get "files/spark-driver-rules.yaml" | fromYaml }}
{{- if or (hasKey $file "Error") (not $file.rules) }}
{{- fail "files/spark-driver-rules.yaml must be a YAML mapping with a non-empty list `rules`" }}
{{- end }}
{{- $file.rules | toJson }}
{{- end }}
