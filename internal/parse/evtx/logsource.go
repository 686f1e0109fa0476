package evtx

import (
	"strings"

	"github.com/wacht-soc/wacht/event"
)

// logSource assigns the Sigma log source (taxonomy appendix, "Windows
// Folder") from the channel, provider and event id.
func logSource(channel, provider, eventID, eventType string) event.LogSource {
	ls := event.LogSource{Product: "windows", Service: channelService(channel)}
	switch ls.Service {
	case "sysmon":
		ls.Category = sysmonCategory(eventID, eventType)
	case "security":
		if eventID == "4688" {
			ls.Category = "process_creation"
		}
	case "powershell":
		switch eventID {
		case "4103":
			ls.Category = "ps_module"
		case "4104":
			ls.Category = "ps_script"
		}
	case "powershell-classic":
		switch eventID {
		case "400":
			ls.Category = "ps_classic_start"
		case "600":
			ls.Category = "ps_classic_provider_start"
		case "800":
			ls.Category = "ps_classic_script"
		}
	}
	if provider == "Microsoft-Windows-Kernel-File" {
		ls.Category = "file_access"
	}
	return ls
}

// channelService maps a channel to its Sigma service; unknown channels get
// none.
func channelService(channel string) string {
	switch channel {
	case "Security":
		return "security"
	case "System":
		return "system"
	case "Application":
		return "application"
	case "Microsoft-Windows-Sysmon/Operational":
		return "sysmon"
	case "Windows PowerShell":
		return "powershell-classic"
	case "Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational":
		return "powershell"
	case "Microsoft-Windows-Application-Experience/Program-Telemetry",
		"Microsoft-Windows-Application-Experience/Program-Compatibility-Assistant":
		return "application-experience"
	case "Microsoft-Windows-AppModel-Runtime/Admin":
		return "appmodel-runtime"
	case "Microsoft-Windows-AppXDeploymentServer/Operational":
		return "appxdeployment-server"
	case "Microsoft-Windows-AppxPackaging/Operational":
		return "appxpackaging-om"
	case "Microsoft-Windows-BitLocker/BitLocker Management":
		return "bitlocker"
	case "Microsoft-Windows-Bits-Client/Operational":
		return "bits-client"
	case "Microsoft-Windows-CAPI2/Operational":
		return "capi2"
	case "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational":
		return "certificateservicesclient-lifecycle-system"
	case "Microsoft-Windows-CodeIntegrity/Operational":
		return "codeintegrity-operational"
	case "Microsoft-Windows-DHCP-Server/Operational":
		return "dhcp"
	case "Microsoft-Windows-Diagnosis-Scripted/Operational":
		return "diagnosis-scripted"
	case "Microsoft-Windows-DNS Client Events/Operational":
		return "dns-client"
	case "DNS Server":
		return "dns-server"
	case "Microsoft-Windows-DNS-Server/Analytical":
		return "dns-server-analytic"
	case "Microsoft-Windows-DNS-Server/Audit":
		return "dns-server-audit"
	case "Microsoft-Windows-DriverFrameworks-UserMode/Operational":
		return "driver-framework"
	case "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall":
		return "firewall-as"
	case "Microsoft-Windows-Hyper-V-Worker":
		return "hyper-v-worker"
	case "Microsoft-IIS-Configuration/Operational":
		return "iis-configuration"
	case "Microsoft-Windows-Kernel-EventTracing":
		return "kernel-event-tracing"
	case "Microsoft-Windows-Kernel-ShimEngine/Operational", "Microsoft-Windows-Kernel-ShimEngine/Diagnostic":
		return "kernel-shimengine"
	case "Microsoft-Windows-LDAP-Client/Debug":
		return "ldap"
	case "Microsoft-Windows-LSA/Operational":
		return "lsa-server"
	case "MSExchange Management":
		return "msexchange-management"
	case "Microsoft-Windows-Ntfs/Operational":
		return "ntfs"
	case "Microsoft-Windows-NTLM/Operational":
		return "ntlm"
	case "OpenSSH/Operational":
		return "openssh"
	case "Microsoft-Windows-PrintService/Admin":
		return "printservice-admin"
	case "Microsoft-Windows-PrintService/Operational":
		return "printservice-operational"
	case "Microsoft-Windows-Security-Mitigations/Kernel Mode", "Microsoft-Windows-Security-Mitigations/User Mode":
		return "security-mitigations"
	case "Microsoft-Windows-SENSE/Operational":
		return "sense"
	case "Microsoft-ServiceBus-Client/Operational", "Microsoft-ServiceBus-Client/Admin":
		return "servicebus-client"
	case "Microsoft-Windows-Shell-Core/Operational":
		return "shell-core"
	case "Microsoft-Windows-SmbClient/Security":
		return "smbclient-security"
	case "Microsoft-Windows-TaskScheduler/Operational":
		return "taskscheduler"
	case "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational":
		return "terminalservices-localsessionmanager"
	case "Microsoft-Windows-VHDMP/Operational":
		return "vhdmp"
	case "Microsoft-Windows-Windows Defender/Operational":
		return "windefend"
	case "Microsoft-Windows-WMI-Activity/Operational":
		return "wmi"
	}
	if strings.HasPrefix(channel, "Microsoft-Windows-AppLocker/") {
		return "applocker"
	}
	return ""
}

// sysmonCategory maps a Sysmon event id to its Sigma category. Registry
// event 12 is an add or a delete depending on its EventType; rules written
// for the umbrella category registry_event match 12, 13 and 14.
func sysmonCategory(eventID, eventType string) string {
	switch eventID {
	case "1":
		return "process_creation"
	case "2":
		return "file_change"
	case "3":
		return "network_connection"
	case "4", "16":
		return "sysmon_status"
	case "5":
		return "process_termination"
	case "6":
		return "driver_load"
	case "7":
		return "image_load"
	case "8":
		return "create_remote_thread"
	case "9":
		return "raw_access_thread"
	case "10":
		return "process_access"
	case "11":
		return "file_event"
	case "12":
		if strings.HasPrefix(eventType, "Delete") {
			return "registry_delete"
		}
		return "registry_add"
	case "13":
		return "registry_set"
	case "14":
		return "registry_rename"
	case "15":
		return "create_stream_hash"
	case "17", "18":
		return "pipe_created"
	case "19", "20", "21":
		return "wmi_event"
	case "22":
		return "dns_query"
	case "23":
		return "file_delete"
	case "24":
		return "clipboard_capture"
	case "25":
		return "process_tampering"
	case "26":
		return "file_delete_detected"
	case "27":
		return "file_block_executable"
	case "28":
		return "file_block_shredding"
	case "29":
		return "file_executable_detected"
	case "255":
		return "sysmon_error"
	}
	return ""
}
