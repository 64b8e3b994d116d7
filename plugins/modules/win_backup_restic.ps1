#!powershell
# Copyright: contributors to this project
# Apache-2.0

#AnsibleRequires -CSharpUtil Ansible.Basic

# Collect only, in one call, for each restic source of a Windows host: the newest
# snapshot (restic snapshots --json), its files (restic ls --json), a sample drawn with
# the seed exactly as plugins/module_utils/backup_collect.py draws it (the N paths with the
# lowest SHA-256 of "<seed>`n<path>"), restic restore --include --verify of those files
# into a fresh scratch folder under C:\ProgramData\maint-restore (ACL: SYSTEM and
# Administrators only), size and SHA-256 of each restored file and of the live file, the
# restore time, and restic check --read-data-subset. The scratch folder is always removed.
# The decisions are made in Python on the controller (backup_restore mode=evaluate).
# restic runs with --no-lock; the password goes in through RESTIC_PASSWORD (or
# RESTIC_PASSWORD_FILE) in the child's environment only, never on its command line.

$spec = @{
    options = @{
        sources = @{ type = 'list'; elements = 'dict'; required = $true }
        passwords = @{ type = 'dict'; default = @{}; no_log = $true }
        seed = @{ type = 'str'; default = '' }
        scratch_tag = @{ type = 'str'; default = 'adhoc' }
        restic_path = @{ type = 'str'; default = 'restic.exe' }
    }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$scratchBase = 'C:\ProgramData\maint-restore'
$secrets = @($module.Params.passwords.Values | Where-Object { $_ })

function Get-Scrubbed {
    param([string]$Text)
    if ($null -eq $Text) { return '' }
    foreach ($secret in $secrets) { $Text = $Text.Replace([string]$secret, '********') }
    return $Text
}

function Get-SampleKey {
    param([string]$Seed, [string]$Path)
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try {
        $bytes = [System.Text.Encoding]::UTF8.GetBytes($Seed + "`n" + $Path)
        $hash = $sha.ComputeHash($bytes)
    }
    finally {
        $sha.Dispose()
    }
    return (($hash | ForEach-Object { $_.ToString('x2') }) -join '')
}

function ConvertTo-Epoch {
    param($Value)
    if ($null -eq $Value) { return $null }
    if ($Value -is [datetime]) {
        return [DateTimeOffset]::new($Value.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0
    }
    # restic prints RFC 3339 with nanoseconds; .NET parses at most 7 fraction digits.
    $text = [regex]::Replace([string]$Value, '(\.\d{7})\d+', '$1')
    $parsed = [DateTimeOffset]::Parse($text, [System.Globalization.CultureInfo]::InvariantCulture)
    return $parsed.ToUnixTimeMilliseconds() / 1000.0
}

function ConvertTo-ArgumentString {
    # Quote each argument for CommandLineToArgvW (Windows PowerShell 5.1 has no ArgumentList).
    param([string[]]$Arguments)
    $quoted = foreach ($arg in $Arguments) {
        if ($arg -ne '' -and $arg -notmatch '[\s"]') { $arg; continue }
        $escaped = [regex]::Replace($arg, '(\\*)"', '$1$1\"')
        $escaped = [regex]::Replace($escaped, '(\\+)$', '$1$1')
        '"' + $escaped + '"'
    }
    return ($quoted -join ' ')
}

function Invoke-Restic {
    param([string[]]$Arguments, [hashtable]$Environment, [int]$TimeoutSeconds)
    $psi = New-Object System.Diagnostics.ProcessStartInfo
    $psi.FileName = $module.Params.restic_path
    $psi.Arguments = ConvertTo-ArgumentString -Arguments $Arguments
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true
    $psi.CreateNoWindow = $true
    $psi.StandardOutputEncoding = [System.Text.Encoding]::UTF8
    foreach ($name in @($psi.EnvironmentVariables.Keys)) {
        if ($name -like 'RESTIC_*') { $psi.EnvironmentVariables.Remove($name) }
    }
    foreach ($name in $Environment.Keys) { $psi.EnvironmentVariables[$name] = $Environment[$name] }
    try {
        $proc = [System.Diagnostics.Process]::Start($psi)
    }
    catch {
        return @{ rc = $null; stdout = ''; stderr = ''; timed_out = $false; missing = $true }
    }
    $proc.StandardInput.Close()
    $outTask = $proc.StandardOutput.ReadToEndAsync()
    $errTask = $proc.StandardError.ReadToEndAsync()
    $timedOut = -not $proc.WaitForExit($TimeoutSeconds * 1000)
    if ($timedOut) {
        try { $proc.Kill() } catch { $null = $_ }
        $null = $proc.WaitForExit(5000)
    }
    $proc.WaitForExit()
    return @{
        rc = $(if ($timedOut) { $null } else { $proc.ExitCode })
        stdout = Get-Scrubbed -Text $outTask.Result
        stderr = Get-Scrubbed -Text $errTask.Result
        timed_out = $timedOut
        missing = $false
    }
}

function Get-Tail {
    param([string]$Text, [int]$Lines = 20)
    $all = @(($Text -split "`r?`n") | Where-Object { $_.Trim() -ne '' })
    if ($all.Count -gt $Lines) { $all = $all[($all.Count - $Lines)..($all.Count - 1)] }
    return ($all -join "`n")
}

function New-SourceError {
    param([string]$Stage, [string]$Kind, [string]$Message)
    $exception = New-Object System.Exception($Message)
    $exception.Data['stage'] = $Stage
    $exception.Data['kind'] = $Kind
    return $exception
}

function Assert-ResticResult {
    param($Result, [string]$Stage)
    if ($Result.missing) { throw (New-SourceError $Stage 'tool_missing' "$($module.Params.restic_path) not found") }
    if ($Result.timed_out) { throw (New-SourceError $Stage 'timeout' 'timed out') }
    if ($Result.rc -ne 0) { throw (New-SourceError $Stage '' (Get-Tail -Text $Result.stderr -Lines 3)) }
}

function Get-ResticPattern {
    # The path as restic ls --json prints it, glob characters in a one-character class.
    param([string]$Path)
    return [regex]::Replace($Path, '([\*\?\[])', '[$1]')
}

function Get-LivePath {
    # /C/Users/x/f (restic's form on Windows) -> C:\Users\x\f, only when under the source.
    param([string]$Path, [string]$Source)
    if ($Path -notmatch '^/([A-Za-z])/(.*)$') { return $null }
    $live = $Matches[1] + ':\' + ($Matches[2] -replace '/', '\')
    $src = $Source.TrimEnd('\')
    if ($live -ieq $src -or $live.StartsWith($src + '\', [System.StringComparison]::OrdinalIgnoreCase)) {
        return $live
    }
    return $null
}

function Get-FileFacts {
    param([string]$Path, [int64]$MaxBytes)
    $item = Get-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
    if ($null -eq $item -or $item.PSIsContainer -or ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint)) {
        return $null
    }
    $out = [ordered]@{ size = $item.Length; mtime = ConvertTo-Epoch -Value $item.LastWriteTimeUtc }
    if ($MaxBytes -le 0 -or $item.Length -le $MaxBytes) {
        $out.sha256 = (Get-FileHash -LiteralPath $Path -Algorithm SHA256).Hash.ToLowerInvariant()
    }
    return $out
}

function New-ScratchFolder {
    param($Config, [string]$Tag)
    $root = [string]$Config.scratch_root
    if (-not $root) { $root = $scratchBase }
    $parts = $root -split '[\\/]+'
    $inside = $root.TrimEnd('\') -ieq $scratchBase -or
        $root.StartsWith($scratchBase + '\', [System.StringComparison]::OrdinalIgnoreCase)
    if ($parts -contains '..' -or -not $inside) {
        throw (New-SourceError 'scratch' 'scratch_unsafe' "$root is outside $scratchBase")
    }
    if (-not (Test-Path -LiteralPath $root)) {
        $null = New-Item -ItemType Directory -Path $root -Force
        $acl = New-Object System.Security.AccessControl.DirectorySecurity
        $acl.SetAccessRuleProtection($true, $false)
        foreach ($sid in @('S-1-5-18', 'S-1-5-32-544')) {
            $identity = New-Object System.Security.Principal.SecurityIdentifier($sid)
            $rule = New-Object System.Security.AccessControl.FileSystemAccessRule(
                $identity, 'FullControl', 'ContainerInherit, ObjectInherit', 'None', 'Allow')
            $acl.AddAccessRule($rule)
        }
        Set-Acl -LiteralPath $root -AclObject $acl
    }
    # Every level from the allowed base down to the root must be a real folder: a junction or
    # symbolic link anywhere on the way would send the restore elsewhere.
    $level = $scratchBase
    $rest = $root.Substring($scratchBase.Length).Trim('\', '/')
    $levels = @($scratchBase)
    foreach ($part in @($rest -split '[\\/]+' | Where-Object { $_ })) {
        $level = Join-Path $level $part
        $levels += $level
    }
    foreach ($path in $levels) {
        $levelItem = Get-Item -LiteralPath $path -Force -ErrorAction SilentlyContinue
        if ($null -eq $levelItem -or -not $levelItem.PSIsContainer -or
            ($levelItem.Attributes -band [System.IO.FileAttributes]::ReparsePoint)) {
            throw (New-SourceError 'scratch' 'scratch_unsafe' "$path is not a real folder (symbolic link or junction?)")
        }
    }
    $source = [string]$Config.source
    if ($source -and ($root.StartsWith($source.TrimEnd('\') + '\', [System.StringComparison]::OrdinalIgnoreCase) -or
            $source.StartsWith($root.TrimEnd('\') + '\', [System.StringComparison]::OrdinalIgnoreCase))) {
        throw (New-SourceError 'scratch' 'scratch_unsafe' "$root overlaps the source $source")
    }
    $safe = [regex]::Replace("$Tag-$($Config.name)", '[^A-Za-z0-9_.-]', '_')
    $random = -join ((1..8) | ForEach-Object { '{0:x}' -f (Get-Random -Maximum 16) })
    $scratch = Join-Path $root "brt-$safe-$random"
    $null = New-Item -ItemType Directory -Path $scratch
    return $scratch
}

function Get-ResticSourceFacts {
    param($Config, [string]$Password, [string]$Seed, [string]$Tag)
    $public = [ordered]@{}
    foreach ($key in $Config.Keys) { if ($key -ne 'index') { $public[$key] = $Config[$key] } }
    $facts = [ordered]@{
        config = $public; seed = $Seed; collected_at = (Get-Date).ToUniversalTime().ToString('o')
        error = $null; snapshot = $null; snapshot_count = 0; sample = @(); restore = [ordered]@{}
        integrity = [ordered]@{ ran = $false }
    }
    $envVars = @{ RESTIC_REPOSITORY = [string]$Config.repository; RESTIC_PROGRESS_FPS = '0.0167' }
    if ($Config.password_file) { $envVars.RESTIC_PASSWORD_FILE = [string]$Config.password_file }
    else { $envVars.RESTIC_PASSWORD = $Password }
    $timeout = [int]$Config.timeout_seconds
    $maxBytes = [int64]$Config.max_sample_file_mb * 1048576
    $scratch = $null
    $skipIntegrity = $false
    try {
        if ($Config.password_var -and -not $Password) {
            throw (New-SourceError 'setup' 'password_missing' "vault variable $($Config.password_var) is not defined or empty")
        }
        if ($Config.password_file -and -not (Test-Path -LiteralPath $Config.password_file -PathType Leaf)) {
            throw (New-SourceError 'setup' 'password_missing' "password file $($Config.password_file) is missing")
        }
        $snapArgs = @('snapshots', '--json', '--no-lock')
        if ($Config.restic_host) { $snapArgs += @('--host', [string]$Config.restic_host) }
        $res = Invoke-Restic -Arguments $snapArgs -Environment $envVars -TimeoutSeconds $timeout
        Assert-ResticResult -Result $res -Stage 'snapshots'
        $snaps = @($res.stdout | ConvertFrom-Json)
        $snaps = @($snaps | Where-Object { $null -ne $_ })
        $facts.snapshot_count = $snaps.Count
        if ($snaps.Count -eq 0) { return $facts }
        $latest = $snaps | Sort-Object -Property @{ Expression = { ConvertTo-Epoch -Value $_.time } } | Select-Object -Last 1
        $facts.snapshot = [ordered]@{
            id = $latest.id; short_id = $latest.short_id; time = ConvertTo-Epoch -Value $latest.time; paths = @($latest.paths)
        }

        $res = Invoke-Restic -Arguments @('ls', '--json', '--no-lock', [string]$latest.id) -Environment $envVars -TimeoutSeconds $timeout
        Assert-ResticResult -Result $res -Stage 'ls'
        $chosen = New-Object 'System.Collections.Generic.SortedDictionary[string,object]' ([System.StringComparer]::Ordinal)
        $count = 0
        $bytes = [int64]0
        foreach ($line in ($res.stdout -split "`r?`n")) {
            if ($line -notmatch '"struct_type":\s*"node"' -or $line -notmatch '"type":\s*"file"') { continue }
            $node = $line | ConvertFrom-Json
            $size = [int64]$node.size
            $count += 1
            $bytes += $size
            if ($maxBytes -gt 0 -and $size -gt $maxBytes) { continue }
            $key = Get-SampleKey -Seed $Seed -Path $node.path
            $chosen[$key] = [ordered]@{ path = $node.path; size = $size; mtime = ConvertTo-Epoch -Value $node.mtime }
            if ($chosen.Count -gt [int]$Config.sample_size) {
                $last = [System.Linq.Enumerable]::Last($chosen.Keys)
                $null = $chosen.Remove($last)
            }
        }
        $facts.listing = [ordered]@{ files = $count; bytes = $bytes }
        $sample = @($chosen.Values)
        $facts.sample = $sample
        if ($sample.Count -eq 0) { return $facts }

        $scratch = New-ScratchFolder -Config $Config -Tag $Tag
        $facts.restore.scratch = $scratch
        $restoreArgs = @('restore', '--no-lock', '--target', $scratch, '--verify')
        foreach ($entry in $sample) { $restoreArgs += @('--include', (Get-ResticPattern -Path $entry.path)) }
        $restoreArgs += [string]$latest.id
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $res = Invoke-Restic -Arguments $restoreArgs -Environment $envVars -TimeoutSeconds $timeout
        $watch.Stop()
        $facts.restore.seconds = [math]::Round($watch.Elapsed.TotalSeconds, 3)
        $facts.restore.rc = $res.rc
        $facts.restore.timed_out = $res.timed_out
        $verified = [regex]::Match($res.stdout, 'finished verifying (\d+) files')
        $facts.restore.tool_verified = ($res.rc -eq 0 -and $verified.Success -and [int]$verified.Groups[1].Value -gt 0)
        if ($res.rc -ne 0 -or $res.timed_out) { $facts.restore.error = Get-Tail -Text $res.stderr -Lines 3 }
        $total = [int64]0
        foreach ($entry in $sample) {
            $restoredPath = Join-Path $scratch ($entry.path.TrimStart('/') -replace '/', '\')
            $got = Get-FileFacts -Path $restoredPath -MaxBytes 0
            $entry.restored = $null -ne $got
            if ($got) {
                $entry.restored_size = $got.size
                $entry.restored_sha256 = $got.sha256
                $total += $got.size
            }
            $live = Get-LivePath -Path $entry.path -Source ([string]$Config.source)
            if ($null -ne $live) {
                $liveFacts = Get-FileFacts -Path $live -MaxBytes $maxBytes
                if ($null -eq $liveFacts) { $entry.live = [ordered]@{ exists = $false; path = $live } }
                else {
                    $entry.live = [ordered]@{ exists = $true; path = $live; size = $liveFacts.size; mtime = $liveFacts.mtime }
                    if ($liveFacts.Contains('sha256')) { $entry.live.sha256 = $liveFacts.sha256 }
                }
            }
        }
        $facts.restore.bytes = $total
    }
    catch {
        $data = $_.Exception.Data
        $stage = $(if ($data.Contains('stage')) { $data['stage'] } else { 'restore' })
        $kind = $(if ($data.Contains('kind')) { $data['kind'] } else { '' })
        $message = Get-Scrubbed -Text $_.Exception.Message
        if ($message.Length -gt 300) { $message = $message.Substring(0, 300) }
        $facts.error = [ordered]@{ stage = $stage; kind = $kind; message = $message }
        $skipIntegrity = $kind -in @('password_missing', 'tool_missing')
    }
    finally {
        if ($scratch) {
            try { [System.IO.Directory]::Delete($scratch, $true) } catch { $null = $_ }
            $facts.restore.scratch_removed = -not (Test-Path -LiteralPath $scratch)
        }
    }

    $integrity = $Config.integrity
    if (-not $skipIntegrity -and $integrity.enabled -ne $false) {
        $checkArgs = @('check', '--no-lock')
        $pct = $integrity.read_data_subset_pct
        if ($pct -gt 0) { $checkArgs += "--read-data-subset=$pct%" }
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $res = Invoke-Restic -Arguments $checkArgs -Environment $envVars -TimeoutSeconds $timeout
        $watch.Stop()
        if ($res.missing) { $facts.integrity = [ordered]@{ ran = $false; error_kind = 'tool_missing' } }
        else {
            $facts.integrity = [ordered]@{
                ran = $true; command = 'restic ' + ($checkArgs -join ' '); rc = $res.rc; timed_out = $res.timed_out
                seconds = [math]::Round($watch.Elapsed.TotalSeconds, 3)
                output = $(if ($res.rc -ne 0 -or $res.timed_out) { Get-Tail -Text ($res.stderr + "`n" + $res.stdout) } else { '' })
            }
        }
    }
    return $facts
}

$seed = $module.Params.seed
if (-not $seed) { $seed = -join ((1..16) | ForEach-Object { '{0:x}' -f (Get-Random -Maximum 16) }) }
$tag = [regex]::Replace($module.Params.scratch_tag, '[^A-Za-z0-9_-]', '_')
$collected = [System.Collections.Generic.List[object]]::new()
foreach ($config in $module.Params.sources) {
    if ($config.type -ne 'restic') { continue }
    $password = [string]$module.Params.passwords[[string]$config.name]
    $collected.Add((Get-ResticSourceFacts -Config $config -Password $password -Seed $seed -Tag $tag))
}
$module.Result.backup_sources = $collected
$module.Result.seed = $seed
$module.Result.changed = $false
$module.ExitJson()
