from setuptools import find_packages, setup


def read_requirements(path):
    with open(path) as f:
        return [line.split('#')[0].strip() for line in f
                if line.split('#')[0].strip() and not line.startswith('-r')]


setup(
    name='normdet',
    version='0.1.0',
    description='Group Whitening, Batch Group Norm, GN+, IterNorm and Stochastic Whitening BN '
                'for MMDetection',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['normdet', 'normdet.*']),
    python_requires='>=3.8',
    install_requires=read_requirements('requirements/runtime.txt'),
    extras_require={'tests': read_requirements('requirements/tests.txt'),
                    'analysis': read_requirements('requirements/analysis.txt')},
    license='Apache License 2.0',
)
