{{- define "auditflow.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
