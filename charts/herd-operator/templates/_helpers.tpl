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

{{/* The operator's rules in each namespace it watches (ClusterRole or Role): the same list, comments included, as deploy/rbac/cluster_role.yaml, nodes excepted. */}}
{{- define "herd-operator.rules" -}}
# TestRuns: get re-reads one before each reconcile; list+watch feed the informer (work
# queue). No update/patch: the operator never changes a TestRun's spec or finalizers.
- apiGroups: [herd.dev]
  resources: [testruns]
  verbs: [get, list, watch]
# Stage, result, exit code, metrics, conditions: a PUT of the status subresource.
- apiGroups: [herd.dev]
  resources: [testruns/status]
  verbs: [update]
# The Jobs and the summary ConfigMap carry an ownerReference to the TestRun with
# blockOwnerDeletion: true; where the OwnerReferencesPermissionEnforcement admission
# plugin is on, setting that needs update on the owner's finalizers subresource.
- apiGroups: [herd.dev]
  resources: [testruns/finalizers]
  verbs: [update]
# PrivateLoadZones: get when a TestRun names one (placement, maxParallelism); list+watch
# to keep each zone's status current.
- apiGroups: [herd.dev]
  resources: [privateloadzones]
  verbs: [get, list, watch]
# Zone status (node counts, Ready condition): a PUT of the status subresource.
- apiGroups: [herd.dev]
  resources: [privateloadzones/status]
  verbs: [update]
# The initializer, runner and coordinator Pods run as Jobs: create them; list+watch for
# progress; get to tell its own Job from a leftover of an earlier TestRun of the same
# name; delete on error and for spec.cleanup. Never updated (a Job's template is immutable).
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, delete]
# The Jobs' Pods (list+watch by label only): readiness, IPs, termination messages,
# failures. Created and deleted by the Job controller, never by the operator; logs are
# never read.
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
# Only the <testrun>-summary ConfigMap: create it, or replace it (PUT) if it exists.
# RBAC cannot name it in advance (create takes no resourceNames), hence the whole namespace.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create, update]
# Events on TestRuns (kubectl describe): create, then patch the count of a repeat.
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{/* Nodes (cluster-scoped), as in deploy/rbac/cluster_role.yaml. */}}
{{- define "herd-operator.nodeRules" -}}
# Nodes, cluster-scoped: list+watch to count each PrivateLoadZone's matching, ready and
# tainted nodes. Without it zones report nothing, but TestRuns still run.
- apiGroups: [""]
  resources: [nodes]
  verbs: [list, watch]
{{- end }}

{{/* k6.io rules (k6io.enabled), as in deploy/components/k6-io/cluster_role.yaml: the herd.dev rules' twins. */}}
{{- define "herd-operator.k6ioRules" -}}
- apiGroups: [k6.io]
  resources: [testruns]
  verbs: [get, list, watch]
- apiGroups: [k6.io]
  resources: [testruns/status]
  verbs: [update]
- apiGroups: [k6.io]
  resources: [testruns/finalizers]
  verbs: [update]
- apiGroups: [k6.io]
  resources: [privateloadzones]
  verbs: [get, list, watch]
- apiGroups: [k6.io]
  resources: [privateloadzones/status]
  verbs: [update]
{{- end }}

{{/* --k6-io checks at start that the k6.io CRDs are herd's (cluster-scoped). */}}
{{- define "herd-operator.k6ioCrdRules" -}}
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  resourceNames: [testruns.k6.io, privateloadzones.k6.io]
  verbs: [get]
{{- end }}
