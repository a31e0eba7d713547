// cordon – koffi struct definitions for the Win32 calls cordon makes (named and laid out as in the SDK).
//
// Only fixed-width and pointer-sized members, so koffi lays them out identically on LP64 (Linux, where
// the layout test computes them) and LLP64 (Windows). Member names are the C names: the layout test
// emits `offsetof(STRUCT, member)` from them. Unions are modelled by their widest member.
import type * as Koffi from 'koffi';

export type KoffiModule = typeof Koffi;
export type KoffiType = ReturnType<KoffiModule['struct']>;

export function defineStructs(k: KoffiModule) {
  const GUID = k.struct('GUID', { Data1: 'uint32', Data2: 'uint16', Data3: 'uint16', Data4: k.array('uint8', 8) });
  const SECURITY_ATTRIBUTES = k.struct('SECURITY_ATTRIBUTES', {
    nLength: 'uint32', lpSecurityDescriptor: 'void *', bInheritHandle: 'int32',
  });
  const STARTUPINFOW = k.struct('STARTUPINFOW', {
    cb: 'uint32', lpReserved: 'void *', lpDesktop: 'void *', lpTitle: 'void *',
    dwX: 'uint32', dwY: 'uint32', dwXSize: 'uint32', dwYSize: 'uint32',
    dwXCountChars: 'uint32', dwYCountChars: 'uint32', dwFillAttribute: 'uint32', dwFlags: 'uint32',
    wShowWindow: 'uint16', cbReserved2: 'uint16', lpReserved2: 'void *',
    hStdInput: 'void *', hStdOutput: 'void *', hStdError: 'void *',
  });
  const STARTUPINFOEXW = k.struct('STARTUPINFOEXW', { StartupInfo: STARTUPINFOW, lpAttributeList: 'void *' });
  const PROCESS_INFORMATION = k.struct('PROCESS_INFORMATION', {
    hProcess: 'void *', hThread: 'void *', dwProcessId: 'uint32', dwThreadId: 'uint32',
  });
  const JOBOBJECT_BASIC_LIMIT_INFORMATION = k.struct('JOBOBJECT_BASIC_LIMIT_INFORMATION', {
    PerProcessUserTimeLimit: 'int64', PerJobUserTimeLimit: 'int64', LimitFlags: 'uint32',
    MinimumWorkingSetSize: 'size_t', MaximumWorkingSetSize: 'size_t', ActiveProcessLimit: 'uint32',
    Affinity: 'uintptr_t', PriorityClass: 'uint32', SchedulingClass: 'uint32',
  });
  const IO_COUNTERS = k.struct('IO_COUNTERS', {
    ReadOperationCount: 'uint64', WriteOperationCount: 'uint64', OtherOperationCount: 'uint64',
    ReadTransferCount: 'uint64', WriteTransferCount: 'uint64', OtherTransferCount: 'uint64',
  });
  const JOBOBJECT_EXTENDED_LIMIT_INFORMATION = k.struct('JOBOBJECT_EXTENDED_LIMIT_INFORMATION', {
    BasicLimitInformation: JOBOBJECT_BASIC_LIMIT_INFORMATION, IoInfo: IO_COUNTERS,
    ProcessMemoryLimit: 'size_t', JobMemoryLimit: 'size_t', PeakProcessMemoryUsed: 'size_t', PeakJobMemoryUsed: 'size_t',
  });
  const JOBOBJECT_BASIC_UI_RESTRICTIONS = k.struct('JOBOBJECT_BASIC_UI_RESTRICTIONS', { UIRestrictionsClass: 'uint32' });
  const JOBOBJECT_BASIC_ACCOUNTING_INFORMATION = k.struct('JOBOBJECT_BASIC_ACCOUNTING_INFORMATION', {
    TotalUserTime: 'int64', TotalKernelTime: 'int64', ThisPeriodTotalUserTime: 'int64', ThisPeriodTotalKernelTime: 'int64',
    TotalPageFaultCount: 'uint32', TotalProcesses: 'uint32', ActiveProcesses: 'uint32', TotalTerminatedProcesses: 'uint32',
  });
  const SID_AND_ATTRIBUTES = k.struct('SID_AND_ATTRIBUTES', { Sid: 'void *', Attributes: 'uint32' });
  const TOKEN_DEFAULT_DACL = k.struct('TOKEN_DEFAULT_DACL', { DefaultDacl: 'void *' });
  const TRUSTEE_W = k.struct('TRUSTEE_W', {
    pMultipleTrustee: 'void *', MultipleTrusteeOperation: 'uint32', TrusteeForm: 'uint32', TrusteeType: 'uint32',
    ptstrName: 'void *',
  });
  const EXPLICIT_ACCESS_W = k.struct('EXPLICIT_ACCESS_W', {
    grfAccessPermissions: 'uint32', grfAccessMode: 'uint32', grfInheritance: 'uint32', Trustee: TRUSTEE_W,
  });
  const SECURITY_CAPABILITIES = k.struct('SECURITY_CAPABILITIES', {
    AppContainerSid: 'void *', Capabilities: 'void *', CapabilityCount: 'uint32', Reserved: 'uint32',
  });
  const OSVERSIONINFOW = k.struct('OSVERSIONINFOW', {
    dwOSVersionInfoSize: 'uint32', dwMajorVersion: 'uint32', dwMinorVersion: 'uint32', dwBuildNumber: 'uint32',
    dwPlatformId: 'uint32', szCSDVersion: k.array('uint16', 128),
  });
  // WFP (fwptypes.h / fwpmtypes.h). FWP_VALUE0's union is 8 bytes; `uint64` is one of its C member names.
  const FWPM_DISPLAY_DATA0 = k.struct('FWPM_DISPLAY_DATA0', { name: 'void *', description: 'void *' });
  const FWP_BYTE_BLOB = k.struct('FWP_BYTE_BLOB', { size: 'uint32', data: 'void *' });
  const FWP_VALUE0 = k.struct('FWP_VALUE0', { type: 'uint32', uint64: 'uint64' });
  const FWP_CONDITION_VALUE0 = k.struct('FWP_CONDITION_VALUE0', { type: 'uint32', uint64: 'uint64' });
  const FWP_V4_ADDR_AND_MASK = k.struct('FWP_V4_ADDR_AND_MASK', { addr: 'uint32', mask: 'uint32' });
  const FWP_RANGE0 = k.struct('FWP_RANGE0', { valueLow: FWP_VALUE0, valueHigh: FWP_VALUE0 });
  const FWPM_FILTER_CONDITION0 = k.struct('FWPM_FILTER_CONDITION0', {
    fieldKey: GUID, matchType: 'uint32', conditionValue: FWP_CONDITION_VALUE0,
  });
  const FWPM_ACTION0 = k.struct('FWPM_ACTION0', { type: 'uint32', filterType: GUID });
  const FWPM_SESSION0 = k.struct('FWPM_SESSION0', {
    sessionKey: GUID, displayData: FWPM_DISPLAY_DATA0, flags: 'uint32', txnWaitTimeoutInMSec: 'uint32',
    processId: 'uint32', sid: 'void *', username: 'void *', kernelMode: 'int32',
  });
  const FWPM_PROVIDER0 = k.struct('FWPM_PROVIDER0', {
    providerKey: GUID, displayData: FWPM_DISPLAY_DATA0, flags: 'uint32', providerData: FWP_BYTE_BLOB, serviceName: 'void *',
  });
  const FWPM_SUBLAYER0 = k.struct('FWPM_SUBLAYER0', {
    subLayerKey: GUID, displayData: FWPM_DISPLAY_DATA0, flags: 'uint32', providerKey: 'void *',
    providerData: FWP_BYTE_BLOB, weight: 'uint16',
  });
  const FWPM_FILTER0 = k.struct('FWPM_FILTER0', {
    filterKey: GUID, displayData: FWPM_DISPLAY_DATA0, flags: 'uint32', providerKey: 'void *',
    providerData: FWP_BYTE_BLOB, layerKey: GUID, subLayerKey: GUID, weight: FWP_VALUE0,
    numFilterConditions: 'uint32', filterCondition: 'void *', action: FWPM_ACTION0,
    providerContextKey: [8, GUID], reserved: 'void *', filterId: 'uint64', effectiveWeight: FWP_VALUE0,
  });
  return {
    GUID, SECURITY_ATTRIBUTES, STARTUPINFOW, STARTUPINFOEXW, PROCESS_INFORMATION,
    JOBOBJECT_BASIC_LIMIT_INFORMATION, IO_COUNTERS, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOBOBJECT_BASIC_UI_RESTRICTIONS, JOBOBJECT_BASIC_ACCOUNTING_INFORMATION, SID_AND_ATTRIBUTES,
    TOKEN_DEFAULT_DACL, TRUSTEE_W, EXPLICIT_ACCESS_W, SECURITY_CAPABILITIES, OSVERSIONINFOW,
    FWPM_DISPLAY_DATA0, FWP_BYTE_BLOB, FWP_VALUE0, FWP_CONDITION_VALUE0, FWP_V4_ADDR_AND_MASK, FWP_RANGE0,
    FWPM_FILTER_CONDITION0, FWPM_ACTION0, FWPM_SESSION0, FWPM_PROVIDER0, FWPM_SUBLAYER0, FWPM_FILTER0,
  };
}

export type Structs = ReturnType<typeof defineStructs>;
