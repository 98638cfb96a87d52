# Find a Python 3.10+ on the runner and start the launcher with it (action.yml, Windows).
# Tried in order: PYPI_PUBLISH_PYTHON, the one actions/setup-python set up (pythonLocation),
# python and python3 on PATH, the py launcher, then the runner's tool cache, newest first.
# Windows PowerShell 5.1 turns a native command's stderr into errors; none of them is fatal here.
$ErrorActionPreference = 'Continue'
$launcher = Join-Path $PSScriptRoot 'launch.py'
$probe = 'import sys; print(sys.executable) if sys.version_info >= (3, 10) else sys.exit(1)'
$script:tried = @()

function Find-Fit([string] $name, [string[]] $prefix = @()) {
  if (-not $name) { return $null }
  $command = Get-Command $name -CommandType Application -ErrorAction SilentlyContinue |
    Select-Object -First 1
  if (-not $command) { return $null }
  $found = & $command.Source @prefix -c $probe 2>$null
  if ($LASTEXITCODE -eq 0 -and $found) { return ([string]$found).Trim() }
  $script:tried += $name
  return $null
}

$candidates = @($env:PYPI_PUBLISH_PYTHON, 'python', 'python3')
if ($env:pythonLocation) { $candidates = @($env:PYPI_PUBLISH_PYTHON, (Join-Path $env:pythonLocation 'python.exe'), 'python', 'python3') }
$python = $null
foreach ($candidate in $candidates) {
  $python = Find-Fit $candidate
  if ($python) { break }
}
if (-not $python) { $python = Find-Fit 'py' @('-3') }
if (-not $python -and $env:RUNNER_TOOL_CACHE -and (Test-Path (Join-Path $env:RUNNER_TOOL_CACHE 'Python'))) {
  $arch = if ($env:RUNNER_ARCH) { $env:RUNNER_ARCH.ToLowerInvariant() } else { 'x64' }
  $versions = Get-ChildItem -Directory (Join-Path $env:RUNNER_TOOL_CACHE 'Python') |
    Where-Object { $_.Name -match '^\d+\.\d+\.\d+$' } |
    Sort-Object { [version]$_.Name } -Descending
  foreach ($version in $versions) {
    $python = Find-Fit (Join-Path $version.FullName "$arch\python.exe")
    if ($python) { break }
  }
}
if (-not $python) {
  $old = if ($script:tried.Count) { $script:tried -join ' ' } else { 'none' }
  Write-Output "::error title=No Python 3.10+ on the runner::pypi-publish starts from Python 3.10 or newer on the runner and found none (too old: $old). Add actions/setup-python with python-version: `"3.13`" before this step."
  exit 1
}
& $python -I $launcher
exit $LASTEXITCODE
