#!/usr/bin/env python3
# Regenerates the standalone CRDs from SPO v1.0.0's CRD files (SPO_CRDS, default /work/shared/spo-v1.0.0/crds):
# SPO's schemas verbatim plus the auditflow additions below, which SPO's objects still pass.
import copy, os

import yaml
SRC=os.environ.get('SPO_CRDS', '/work/shared/spo-v1.0.0/crds')
OUT=os.path.dirname(os.path.abspath(__file__))

class D(yaml.SafeDumper): pass
def str_rep(d, s):
    if '\n' in s: return d.represent_scalar('tag:yaml.org,2002:str', s, style='|')
    return d.represent_scalar('tag:yaml.org,2002:str', s)
D.add_representer(str, str_rep)

def load(f): return list(yaml.safe_load_all(open(os.path.join(SRC,f))))

COND_EXT = None

def base(crd):
    crd = copy.deepcopy(crd)
    crd['metadata'].pop('annotations', None)
    crd['metadata']['labels'] = {'app.kubernetes.io/part-of': 'auditflow'}
    crd['spec']['names']['categories'] = ['security-profiles']
    return crd

def each_schema(crd):
    for v in crd['spec']['versions']:
        yield v['name'], v['schema']['openAPIV3Schema']

IDENT_TYPE = "self.all(t, t == '@self' || (t.size() <= 128 && t.matches('^[A-Za-z_][A-Za-z0-9_]*$')))"
IDENT_CLASS = "self.all(c, c.size() <= 64 && c.matches('^[a-z_][a-z0-9_]*$'))"

def seccomp(crd):
    for _, s in each_schema(crd):
        names = s['properties']['spec']['properties']['syscalls']['items']['properties']['names']
        names['items'].update({'maxLength': 64, 'pattern': '^[a-z0-9_]+$'})
    return crd

def selinux(crd):
    for _, s in each_schema(crd):
        sp = s['properties']['spec']['properties']
        allow = sp['allow']
        # Bounds so the CEL rules below fit the apiserver's cost budget (generous: a recorded profile has tens).
        allow['maxProperties'] = 512
        allow['additionalProperties']['maxProperties'] = 128
        allow['additionalProperties']['additionalProperties']['maxItems'] = 256
        allow['x-kubernetes-validations'] = [{'rule': IDENT_TYPE, 'message': 'target types must be SELinux identifiers (letters, digits, _) or @self: they end up in CIL text'}]
        allow['additionalProperties']['x-kubernetes-validations'] = [{'rule': IDENT_CLASS, 'message': 'object classes must be SELinux identifiers (lower case letters, digits, _)'}]
        allow['additionalProperties']['additionalProperties']['items'].update({'maxLength': 64, 'pattern': '^[a-z_][a-z0-9_]*$'})
        sp['inherit']['items']['properties']['name'].update({'maxLength': 253, 'pattern': '^[A-Za-z0-9_]([-A-Za-z0-9_.]*[A-Za-z0-9_])?$'})
    return crd

def recording(crd):
    cond = copy.deepcopy(load('apparmorprofile.yaml')[0]['spec']['versions'][0]['schema']['openAPIV3Schema']['properties']['status']['properties']['conditions'])
    for _, s in each_schema(crd):
        st = s['properties']['status']['properties']
        st['conditions'] = copy.deepcopy(cond)
        st['conditions']['description'] = 'auditflow extension: Ready (the spec can be recorded, or why not: e.g. the Bpf recorder), Synced (the last profile write).'
        st['profiles'] = {'description': 'auditflow extension: names of the profiles this recording produced so far.', 'type': 'array', 'items': {'type': 'string'}, 'x-kubernetes-list-type': 'set'}
    return crd

HEAD = {
 'seccompprofiles.yaml': 'SeccompProfile',
 'selinuxprofiles.yaml': 'SelinuxProfile',
 'rawselinuxprofiles.yaml': 'RawSelinuxProfile',
 'apparmorprofiles.yaml': 'AppArmorProfile',
 'profilerecordings.yaml': 'ProfileRecording',
 'profilebindings.yaml': 'ProfileBinding',
 'securityprofilenodestatuses.yaml': 'SecurityProfileNodeStatus',
}
EXT = {
 'seccompprofiles.yaml': 'syscall names must match ^[a-z0-9_]+$ (at most 64 characters), as libseccomp spells them.',
 'selinuxprofiles.yaml': 'allow keys, classes and permissions must be SELinux identifiers and inherit names CIL names: they\n# end up verbatim in CIL text, so a hostile object cannot smuggle CIL statements into the policy (bounded for CEL\'s\n# cost budget: at most 512 target types, 128 classes each, 256 permissions per class).',
 'profilerecordings.yaml': 'status.conditions (Ready/Synced: why a recording records nothing, e.g. recorder Bpf) and\n# status.profiles (the profiles it produced).',
}
crds = {}
for f in ['seccompprofile.yaml','selinuxpolicy.yaml','apparmorprofile.yaml','profilerecording.yaml','profilebinding.yaml','securityprofilenodestatus.yaml']:
    for d in load(f): crds[d['spec']['names']['kind']] = d
fix = {'SeccompProfile': seccomp, 'SelinuxProfile': selinux, 'ProfileRecording': recording}
for out, kind in HEAD.items():
    crd = base(crds[kind])
    crd = fix.get(kind, lambda c: c)(crd)
    vers = ', '.join(f"{v['name']}{' (storage)' if v['storage'] else ''}" for v in crd['spec']['versions'])
    hdr = (f"# {kind}: SPO v1.0.0's CRD (kubernetes-sigs/security-profiles-operator, tag v1.0.0, deploy/base-crds/crds,\n"
           f"# Apache License 2.0, copyright The Kubernetes Authors), served as-is: scope {crd['spec']['scope']}, versions {vers},\n"
           f"# SPO's defaults and enums. Generated by deploy/base/crds/generate.py from SPO's files;\n"
           f"# test/k8s/spo-compat.test.ts checks SPO's objects come back unchanged.\n")
    hdr += f"# auditflow additions (SPO's objects still pass): " + (EXT.get(out, 'none') ) + "\n"
    with open(os.path.join(OUT,out),'w') as fh:
        fh.write(hdr)
        yaml.dump(crd, fh, Dumper=D, sort_keys=False, width=120, default_flow_style=False)
print('ok')
