{{/* Names, labels and the pieces every workload shares. */}}

{{- define "erp-assistant.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "erp-assistant.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "rasa") */}}
{{- define "erp-assistant.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "erp-assistant.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "erp-assistant.fullname" .)) -}}
{{- end -}}

{{/* Every key of the secret the processes read; the admin keys only with provisioning. */}}
{{- define "erp-assistant.secretKeys" -}}
{{- $keys := list "RASA_TOKEN" "ACTION_SERVER_TOKEN" "GATEWAY_INTERNAL_TOKEN" "GENERATOR_TOKEN" "VERIFICATION_SECRET" "WEB_SESSION_SECRET" "METRICS_TOKEN" "RASA_TRACKER_PG_PASSWORD" "RASA_LOCK_REDIS_PASSWORD" "RASA_EVENTS_PASSWORD" "RASA_EVENTS_READER_PASSWORD" "GATEWAY_REDIS_PASSWORD" "GATEWAY_DATABASE_PASSWORD" "ACTIONS_STATE_DATABASE_PASSWORD" "ANALYTICS_EVENTS_PASSWORD" "ERP_DATABASE_URL" -}}
{{- if .Values.provision.enabled -}}
{{- $keys = concat $keys (list "PRODUCTION_POSTGRES_ADMIN_URL" "PRODUCTION_REDIS_ADMIN_URL" "RABBITMQ_ADMIN_USER" "RABBITMQ_ADMIN_PASSWORD") -}}
{{- end -}}
{{- concat $keys .Values.secrets.optional | join "," -}}
{{- end -}}

{{/* Environment variables from the secret: (dict "root" $ "names" (list "RASA_TOKEN" ...)) */}}
{{- define "erp-assistant.secretEnv" -}}
{{- $secret := include "erp-assistant.secretName" .root -}}
{{- range .names }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ . }}
      {{- if has . $.root.Values.secrets.optional }}
      optional: true
      {{- end }}
{{- end }}
{{- end -}}

{{/* What a pod of any component shares: security, scheduling, pull secrets. */}}
{{- define "erp-assistant.podCommon" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "erp-assistant.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "erp-assistant.mainImage" -}}
{{ .Values.image.main.repository }}:{{ .Values.image.main.tag }}
{{- end -}}

{{- define "erp-assistant.rasaImage" -}}
{{ .Values.image.rasa.repository }}:{{ .Values.image.rasa.tag }}
{{- end -}}
