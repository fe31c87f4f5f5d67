{{/* Chart name, or nameOverride. */}}
{{- define "herd-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects: herd-operator for a release of that name, else <release>-herd-operator. */}}
{{- define "herd-operator.fullname" -}}
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

{{- define "herd-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "herd-operator.labels" -}}
helm.sh/chart: {{ include "herd-operator.chart" . }}
{{ include "herd-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: herd
{{- end }}

{{/* Labels selecting the operator's Pods. */}}
{{- define "herd-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "herd-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "herd-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "herd-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "herd-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Watched namespaces as a JSON list: watchNamespaces, or with rbac.namespaced and none given, the release namespace. */}}
{{- define "herd-operator.watchNamespaces" -}}
{{- if .Values.watchNamespaces }}
{{- toJson .Values.watchNamespaces }}
{{- else if .Values.rbac.namespaced }}
{{- toJson (list .Release.Namespace) }}
{{- else }}
{{- toJson (list) }}
{{- end }}
{{- end }}

{{/* Namespaces that get ServiceAccount herd-runner, as a JSON list. */}}
{{- define "herd-operator.runnerNamespaces" -}}
{{- if .Values.runnerRBAC.namespaces }}
{{- toJson .Values.runnerRBAC.namespaces }}
{{- else if .Values.watchNamespaces }}
{{- toJson .Values.watchNamespaces }}
{{- else }}
{{- toJson (list .Release.Namespace) }}
{{- end }}
{{- end }}

{{/* The operator's rules in the namespaces it watches (ClusterRole or Role): the same list as deploy/rbac/cluster_role.yaml, nodes excepted. */}}
{{- define "herd-operator.rules" -}}
- apiGroups: [herd.dev]
  resources: [testruns, privateloadzones]
  verbs: [get, list, watch, update, patch]
- apiGroups: [herd.dev]
  resources: [testruns/status, privateloadzones/status]
  verbs: [get, update, patch]
- apiGroups: [herd.dev]
  resources: [testruns/finalizers]
  verbs: [update]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, delete]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{- define "herd-operator.nodeRules" -}}
- apiGroups: [""]
  resources: [nodes]
  verbs: [get, list, watch]
{{- end }}
